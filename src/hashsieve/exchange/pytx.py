"""A python-threatexchange extension: fetch a hashsieve feed with ``threatexchange`` (or HMA).

Imported by threatexchange only (it needs the ``threatexchange`` package); nothing in hashsieve
imports it. Every page is verified exactly as ``hashsieve exchange sync`` does
(:func:`hashsieve.exchange.protocol.verify_page`: the pinned publisher key, the chain, the
sequence), and a refused page stops the fetch with the reason::

    threatexchange config extensions add hashsieve.exchange.pytx
    threatexchange config collab edit hashsieve_feed agency-a --create \\
        --url https://agency-a:8642 --feed shared --publisher-key PUBKEY
    HASHSIEVE_EXCHANGE_TOKEN=TOKEN threatexchange fetch
    threatexchange dataset -P            # the fetched PDQ hashes

Signals are keyed by (signal type, value): hashsieve's ``pdq`` is threatexchange's ``pdq``;
digests keep hashsieve's names (``md5``, ``sha1``, ``sha256``), which threatexchange's file
matching does not use (its ``video_md5`` means a video's MD5 only).
"""

# No ``from __future__ import annotations``: threatexchange's CLI reads the config dataclass's
# field types at run time to build its options.
import json
import typing as t
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from threatexchange.exchanges import auth
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.collab_config import CollaborationConfigWithDefaults
from threatexchange.exchanges.signal_exchange_api import SignalExchangeAPIWithSimpleUpdates
from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest
from threatexchange.signal_type.signal_base import SignalType

from hashsieve.exchange.protocol import ADD, FeedRefused, Position, genesis, verify_page

API_NAME = "hashsieve_feed"
TOKEN_ENV = "HASHSIEVE_EXCHANGE_TOKEN"
TIMEOUT = 60.0


@dataclass
class _Required:
    url: str = field(metadata={"help": "the publishing instance, e.g. https://agency-a:8642"})
    feed: str = field(metadata={"help": "the feed's name"})
    publisher_key: str = field(
        metadata={"help": "the publisher's Ed25519 public key (64 hex digits), pinned"}
    )


@dataclass
class HashsieveFeedConfig(CollaborationConfigWithDefaults, _Required):
    """A hashsieve feed: where, which, and whose key signs it."""


@dataclass
class HashsieveCheckpoint(state.FetchCheckpointBase):
    """The last verified sequence number and chain value (and when that page was issued)."""

    seq: int = 0
    chain: str = ""
    issued_at: str | None = None


@dataclass
class HashsieveSignalMetadata(state.FetchedSignalMetadata):
    """What the feed says of a hash: category, series and who else holds it."""

    category: int | None = None
    series: str | None = None
    agency: str | None = None
    case_ref: str | None = None
    contact: str | None = None

    def get_as_opinions(self) -> Sequence[state.SignalOpinion]:
        tags = {f"category:{self.category}"} if self.category is not None else set()
        if self.series:
            tags.add(f"series:{self.series}")
        # Category 0 is non-pertinent (known, not abuse material).
        category = (
            state.SignalOpinionCategory.NEGATIVE_CLASS
            if self.category == 0
            else state.SignalOpinionCategory.POSITIVE_CLASS
        )
        return [state.SignalOpinion(False, category, tags)]


class HashsieveCredentials(auth.CredentialHelper):
    """The peer token the publisher gave (``hashsieve exchange peer add``)."""

    ENV_VARIABLE: t.ClassVar[str] = TOKEN_ENV

    def __init__(self, token: str) -> None:
        self.token = token

    @classmethod
    def _from_str(cls, s: str) -> "HashsieveCredentials":
        return cls(s.strip())

    def _are_valid(self) -> bool:
        return bool(self.token)


_Delta = state.FetchDelta[tuple[str, str], HashsieveSignalMetadata, HashsieveCheckpoint]


class HashsieveFeedSignalExchangeAPI(
    auth.SignalExchangeWithAuth[HashsieveFeedConfig, HashsieveCredentials],
    SignalExchangeAPIWithSimpleUpdates[
        HashsieveFeedConfig, HashsieveCheckpoint, HashsieveSignalMetadata
    ],
):
    """Fetch a hashsieve feed's signed pages, verified, as signal updates."""

    def __init__(self, collab: HashsieveFeedConfig, credentials: HashsieveCredentials) -> None:
        self.collab = collab
        self.credentials = credentials

    @classmethod
    def get_name(cls) -> str:
        return API_NAME

    @staticmethod
    def get_config_cls() -> type[HashsieveFeedConfig]:
        return HashsieveFeedConfig

    @staticmethod
    def get_checkpoint_cls() -> type[HashsieveCheckpoint]:
        return HashsieveCheckpoint

    @staticmethod
    def get_record_cls() -> type[HashsieveSignalMetadata]:
        return HashsieveSignalMetadata

    @staticmethod
    def get_credential_cls() -> type[HashsieveCredentials]:
        return HashsieveCredentials

    @classmethod
    def for_collab(
        cls,
        collab: HashsieveFeedConfig,
        credentials: HashsieveCredentials | None = None,
    ) -> "HashsieveFeedSignalExchangeAPI":
        return cls(collab, credentials or HashsieveCredentials.get(cls))

    def _get(self, after: int) -> bytes:
        base = self.collab.url.rstrip("/")
        url = f"{base}/api/exchange/feeds/{urllib.parse.quote(self.collab.feed)}?after={after}"
        request = urllib.request.Request(
            url, headers={"Authorization": f"Bearer {self.credentials.token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                body: bytes = response.read()
                return body
        except urllib.error.HTTPError as exc:
            raise FeedRefused(f"{base} answered {exc.code}") from None

    def fetch_iter(
        self,
        _supported_signal_types: Sequence[type[SignalType]],
        checkpoint: HashsieveCheckpoint | None,
    ) -> Iterator[_Delta]:
        if checkpoint is None or not checkpoint.chain:
            at = Position(0, genesis(self.collab.feed))
        else:
            at = Position(checkpoint.seq, checkpoint.chain, checkpoint.issued_at)
        key = self.collab.publisher_key.strip().lower()
        while True:
            try:
                page = json.loads(self._get(at.seq))
            except (ValueError, UnicodeDecodeError):
                raise FeedRefused("the answer is not JSON: an altered page") from None
            entries, at, head = verify_page(page, feed=self.collab.feed, publisher=key, at=at)
            updates: dict[tuple[str, str], HashsieveSignalMetadata | None] = {}
            for entry in entries:
                signal = (entry["algorithm"], entry["value"])
                if entry["op"] == ADD:
                    origin = entry.get("origin") or {}
                    updates[signal] = HashsieveSignalMetadata(
                        category=entry.get("category"),
                        series=entry.get("series"),
                        agency=origin.get("agency") or page.get("agency"),
                        case_ref=origin.get("case_ref"),
                        contact=origin.get("contact"),
                    )
                else:
                    updates[signal] = None
            yield _Delta(updates, HashsieveCheckpoint(at.seq, at.chain, at.issued_at))
            if at.seq >= head or not entries:
                return


TX_MANIFEST = ThreatExchangeExtensionManifest(apis=(HashsieveFeedSignalExchangeAPI,))
