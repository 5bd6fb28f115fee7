"""`make bench`'s runner: every script in its own process, one table of their figures."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.bench import run_all

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import os
import sys

sys.path.insert(0, {root!r})
from tests.bench import table

print("{name} prints its own table")
{body}
"""


def fake_bench(folder: Path, name: str, body: str) -> None:
    text = SCRIPT.format(root=str(ROOT), name=name, body=textwrap.dedent(body))
    (folder / f"bench_{name}.py").write_text(text, encoding="utf-8")


@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "bench"
    folder.mkdir()
    fake_bench(
        folder,
        "alpha",
        """
        quick = os.environ.get("BENCH_QUICK", "0")
        table.record("alpha", "sweep of 100 | due clocks", "12.0 ms", "11.0 ms (few)", "1.09x")
        table.record("alpha", f"quick={quick}", "2", "1", "2.00x")
        """,
    )
    fake_bench(
        folder,
        "broken",
        """
        table.record("broken", "before the crash", "5 ms", "4 ms", "1.25x")
        sys.exit(3)
        """,
    )
    fake_bench(folder, "silent", "")
    (folder / "helper.py").write_text("raise SystemExit('not a benchmark')\n", encoding="utf-8")
    return folder


def test_every_script_runs_and_its_figures_land_in_one_table(
    bench_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "var" / "bench.md"

    status = run_all.main(["--bench-dir", str(bench_dir), "--table", str(out)])

    text = out.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert status == 1, "a failed benchmark makes the run fail"
    assert lines[0] == "# Benchmarks"
    assert "cores" in lines[2]
    assert "memory" in lines[2]
    assert "database:" in lines[2]
    assert "Redis:" in lines[2]
    assert "| benchmark | figure | value | baseline (same run) | ratio |" in lines
    assert "| alpha | sweep of 100 \\| due clocks | 12.0 ms | 11.0 ms (few) | 1.09x |" in lines
    assert "| alpha | quick=0 | 2 | 1 | 2.00x |" in lines
    # The failing script's rows are kept, and its failure is a row of its own.
    assert "| broken | before the crash | 5 ms | 4 ms | 1.25x |" in lines
    assert any(line.startswith("| broken | **FAILED** (exit status 3") for line in lines)
    assert any(line.startswith("| silent | no figure recorded") for line in lines)
    assert not any("helper" in line for line in lines)
    assert text.rstrip().endswith("failed: broken.")


def test_only_runs_the_named_benchmark_with_quick_sizes(bench_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.md"

    status = run_all.main(
        ["--bench-dir", str(bench_dir), "--table", str(out), "--only", "alpha", "--quick"]
    )

    rows = [line for line in out.read_text(encoding="utf-8").splitlines() if line.startswith("| ")]
    assert status == 0
    assert rows[1:] == [
        "| alpha | sweep of 100 \\| due clocks | 12.0 ms | 11.0 ms (few) | 1.09x |",
        "| alpha | quick=1 | 2 | 1 | 2.00x |",
    ]
    assert "QUICK sizes" in out.read_text(encoding="utf-8")


def test_an_unknown_benchmark_is_refused(bench_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no benchmark nope"):
        run_all.main(["--bench-dir", str(bench_dir), "--only", "nope"])


def test_the_table_path_comes_from_bench_table(
    bench_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "elsewhere.md"
    monkeypatch.setenv("BENCH_TABLE", str(out))

    run_all.main(["--bench-dir", str(bench_dir), "--only", "alpha"])

    assert "| alpha | quick=0 | 2 | 1 | 2.00x |" in out.read_text(encoding="utf-8")


def test_the_real_benchmarks_are_found() -> None:
    names = {run_all.name_of(s) for s in run_all.scripts_in(run_all.BENCH_DIR, [])}

    assert {"reports", "explain", "intake_sweep", "maps", "risk"} <= names
