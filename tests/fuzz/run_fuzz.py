"""`make fuzz`: the fuzz tests under the `fuzz` profile, in rounds, within FUZZ_SECONDS.

Hypothesis has no time limit of its own, so the budget is kept from outside: each round runs
`pytest tests/fuzz` with `HYPOTHESIS_PROFILE=fuzz` and `FUZZ_EXAMPLES` examples per test
(fresh random examples each round), the next round is sized from the last one's pace to fit
what is left, and a round still running at the bound is stopped there. The first failure
ends the run (exit 1) with hypothesis' falsifying example in the output.

    FUZZ_SECONDS=600 FUZZ_EXAMPLES=25 python tests/fuzz/run_fuzz.py [pytest arguments]
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MIN_EXAMPLES = 10
MAX_GROWTH = 4


def run_round(examples: int, seconds: float, extra: list[str]) -> tuple[str, float]:
    """One pytest run: ("passed" | "failed" | "stopped", its duration)."""
    env = {**os.environ, "HYPOTHESIS_PROFILE": "fuzz", "FUZZ_EXAMPLES": str(examples)}
    command = [sys.executable, "-m", "pytest", "tests/fuzz", "-x", "-q", "-p", "no:warnings"]
    started = time.monotonic()
    process = subprocess.Popen([*command, *extra], cwd=ROOT, env=env, start_new_session=True)  # noqa: S603
    try:
        code = process.wait(timeout=max(seconds, 1))
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        return "stopped", time.monotonic() - started
    return ("passed" if code == 0 else "failed"), time.monotonic() - started


def main() -> int:
    budget = float(os.environ.get("FUZZ_SECONDS", "600"))
    examples = int(os.environ.get("FUZZ_EXAMPLES", "25"))
    deadline = time.monotonic() + budget
    rounds: list[tuple[int, str, float]] = []
    while True:
        left = deadline - time.monotonic()
        outcome, took = run_round(examples, left, sys.argv[1:])
        rounds.append((examples, outcome, took))
        # (A round stopped at the bound may have left pytest's progress line open.)
        print(f"\nfuzz round {len(rounds)}: {examples} examples per test, {outcome}, {took:.0f} s")
        if outcome != "passed":
            break
        left = deadline - time.monotonic()
        # The next round at the last one's pace, in 80% of what is left.
        examples = min(int(examples * 0.8 * left / took), examples * MAX_GROWTH)
        if examples < MIN_EXAMPLES:
            break
    spent = budget - max(deadline - time.monotonic(), 0)
    total = sum(n for n, outcome, _ in rounds if outcome == "passed")
    print(
        f"fuzz: {len(rounds)} rounds in {spent:.0f} s of {budget:.0f} s; "
        f"{total} examples per test in finished rounds"
    )
    return 1 if any(outcome == "failed" for _, outcome, _ in rounds) else 0


if __name__ == "__main__":
    sys.exit(main())
