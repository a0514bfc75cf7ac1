"""The fuzz targets of fuzz/ in CI: each replays its seed corpus and then runs a bounded number of
mutated inputs under libFuzzer (atheris), in its own process. A target fails on an input the
library answers outside its contract (fuzz/README.md); libFuzzer then exits non-zero and writes
the input, which this test shows. Longer runs: ``make fuzz``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fuzz import run

ROOT = Path(__file__).resolve().parents[2]
#: Mutated inputs per target after the seeds (about 60-90 s for all five on one core).
RUNS = {"icap": 2000, "hashsets": 1000, "archive": 300, "content": 150, "disk": 120}
#: A ceiling, never reached in a healthy run: libFuzzer stops by itself after RUNS.
CEILING_S = 120


def test_every_target_has_runs_and_seeds() -> None:
    assert set(RUNS) == set(run.TARGETS)
    for target in run.TARGETS:
        seeds = list((ROOT / "fuzz" / "corpus" / target).iterdir())
        assert seeds, f"no seeds for {target}"
        assert all(s.stat().st_size <= 24 * 1024 for s in seeds)


@pytest.mark.parametrize("target", run.TARGETS)
def test_fuzz_target_short_run(target: str, tmp_path: Path) -> None:
    cmd = run.command(target, seconds=CEILING_S, runs=RUNS[target], out=tmp_path)
    done = subprocess.run(
        [*cmd, "-seed=1"], cwd=ROOT, capture_output=True, text=True, timeout=CEILING_S + 60
    )
    crashes = sorted(p.name for p in tmp_path.glob("crash-*"))
    tail = done.stdout[-3000:] + done.stderr[-3000:]
    assert done.returncode == 0 and not crashes, f"{target}: {crashes}\n{tail}"
    assert "stat::number_of_executed_units" in done.stderr, tail
    executed = int(done.stderr.split("stat::number_of_executed_units:")[1].split()[0])
    assert executed >= RUNS[target]


def test_runner_keeps_the_seed_corpus_read_only(tmp_path: Path) -> None:
    cmd = run.command("icap", seconds=5, runs=10, out=tmp_path)
    assert cmd[-1] == str(ROOT / "fuzz" / "corpus" / "icap")
    assert cmd[-2] == str(tmp_path / "corpus")  # libFuzzer writes new inputs to the first one
    assert any(a == f"-artifact_prefix={tmp_path}/" for a in cmd)
    assert cmd[:3] == [sys.executable, "-m", "fuzz.icap"]
