"""Run the fuzz targets, each in its own process, over its seed corpus: ``make fuzz``.

    .venv/bin/python -m fuzz.run [--seconds 300] [--runs N] [TARGET ...]

New inputs libFuzzer keeps go to fuzz/findings/<target>/corpus (the committed seeds are never
changed); a crash is written to fuzz/findings/<target>/crash-* and the run of that target fails.
Turn each crash into a regression input under tests/fuzz/crashes/<target>/ once it is fixed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TARGETS = ("icap", "hashsets", "archive", "content", "disk")
#: Per input: a hang (seconds) or a memory blow-up (MB) is a finding too.
TIMEOUT_S = 60
RSS_LIMIT_MB = 3072


def command(target: str, *, seconds: int | None, runs: int | None, out: Path) -> list[str]:
    """The libFuzzer command line of one target (new inputs to ``out``, seeds read only)."""
    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    args = [
        sys.executable,
        "-m",
        f"fuzz.{target}",
        f"-timeout={TIMEOUT_S}",
        f"-rss_limit_mb={RSS_LIMIT_MB}",
        f"-artifact_prefix={out}/",
        "-print_final_stats=1",
    ]
    if seconds is not None:
        args.append(f"-max_total_time={seconds}")
    if runs is not None:
        args.append(f"-runs={runs}")
    return [*args, str(corpus), str(ROOT / "corpus" / target)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", choices=[[], *TARGETS], default=list(TARGETS))
    parser.add_argument("--seconds", type=int, default=300, help="per target (default 300)")
    parser.add_argument("--runs", type=int, default=None, help="stop a target after N inputs")
    parser.add_argument("--out", type=Path, default=ROOT / "findings")
    args = parser.parse_args(argv)
    failed = []
    for target in args.targets or TARGETS:
        out = args.out / target
        cmd = command(target, seconds=args.seconds, runs=args.runs, out=out)
        print(f"== {target}: {' '.join(cmd[3:])}", flush=True)
        if subprocess.run(cmd, cwd=ROOT.parent, check=False).returncode != 0:
            failed.append(target)
    if failed:
        print(f"crashes in: {', '.join(failed)} (inputs under {args.out})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
