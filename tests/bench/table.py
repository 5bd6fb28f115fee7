"""One table for every benchmark: each script records its figures here.

`make bench` (tests/bench/run_all.py) sets `BENCH_ROWS` to a JSON-lines file; every
`record` appends one row to it, and the runner writes the rows as one markdown table. Run on
its own, a script just prints its own tables and `record` writes nowhere.
"""

from __future__ import annotations

import json
import os


def record(bench: str, figure: str, value: str, baseline: str, ratio: str) -> None:
    """One figure beside its baseline measured in the same run (all as display text)."""
    path = os.getenv("BENCH_ROWS", "")
    if not path:
        return
    row = {"bench": bench, "figure": figure, "value": value, "baseline": baseline, "ratio": ratio}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
