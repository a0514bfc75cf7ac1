"""The anchors' own virtual environment ``.bench-venv/``: python-threatexchange and its PDQ hasher.

    .venv/bin/python bench/anchors.py        # create or repair it (idempotent), print its CLI path

bench/index.py compares our PDQ index with FAISS in the benchmark's own interpreter (it imports
hashsieve), so :func:`ensure_faiss` installs ``faiss-cpu`` there (``.venv``) the first time: a
benchmark dependency, not a test or runtime one.

Kept apart from ``.venv`` so the anchor runs with exactly the dependencies its users install
(``threatexchange`` pulls ``pdqhash``, Pillow and ``faiss-cpu``). Skipped when already present and
working at the pinned version.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".bench-venv"
#: 1.2.17 has no ``pdq_hasher`` extra; pdqhash and Pillow come as its dependencies, listed here so
#: a change upstream cannot silently drop them.
REQUIREMENTS = ("threatexchange==1.2.17", "pdqhash", "pillow")
_STAMP = VENV / ".bench-installed"
_CHECK = "import threatexchange, pdqhash, PIL; from threatexchange.cli.main import main"


def python() -> Path:
    return VENV / "bin" / "python"


def threatexchange() -> Path:
    return VENV / "bin" / "threatexchange"


def _works() -> bool:
    if not (python().exists() and threatexchange().exists()):
        return False
    if not _STAMP.exists() or _STAMP.read_text() != "\n".join(REQUIREMENTS):
        return False
    return subprocess.run([str(python()), "-c", _CHECK], capture_output=True).returncode == 0


def ensure(quiet: bool = False) -> Path:
    """Create ``.bench-venv`` with the anchors unless it already works; return the CLI's path."""
    if _works():
        return threatexchange()
    if not quiet:
        print(f"installing the anchors into {VENV.relative_to(ROOT)} ({', '.join(REQUIREMENTS)})")
    if not python().exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(python()), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *REQUIREMENTS], check=True)
    subprocess.run([str(python()), "-c", _CHECK], check=True)
    _STAMP.write_text("\n".join(REQUIREMENTS))
    return threatexchange()


#: The FAISS build python-threatexchange installs (its dependency, unpinned there too).
FAISS = "faiss-cpu"


def ensure_faiss(python: str = sys.executable) -> None:
    """Install ``faiss-cpu`` into ``python``'s environment unless ``import faiss`` already works."""
    if subprocess.run([python, "-c", "import faiss"], capture_output=True).returncode == 0:
        return
    print(f"installing {FAISS} into {Path(python).parent.parent} for bench/index.py", flush=True)
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", FAISS]
    subprocess.run(pip, check=True)


if __name__ == "__main__":
    print(ensure())
