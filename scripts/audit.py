"""`make audit`: known vulnerabilities in the installed (pinned) dependencies, by pip-audit.

Exits 1 when pip-audit finds a vulnerable dependency, naming each advisory and the releases
that fix it (raise the pin in pyproject.toml to one of them). pip-audit reads the advisories
from PyPI's JSON API, one request per installed release; when none can be had (no network,
or an index that does not serve that API), nothing was audited, though pip-audit itself says
"No known vulnerabilities found". Then this prints one SKIPPED line and exits 0, except with
AUDIT_REQUIRED=true, where it exits 1: a pipeline that can reach the advisory data sets it,
so that an audit that did not happen never passes there.

(Why not under CI=true: the machine CI runs on reaches PyPI's package index and project
pages but not its per-release JSON API nor OSV, so no advisory data can be had there; the
SKIPPED line says so in every CI log.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

PIP_AUDIT = [
    sys.executable,
    "-m",
    "pip_audit",
    "--skip-editable",  # the hub itself, which is not on PyPI
    "--format",
    "json",
    "--progress-spinner",
    "off",
    "--desc",
    "off",
]


@dataclass
class Verdict:
    """What one pip-audit run showed, as lines to print and an exit status."""

    status: int
    lines: list[str] = field(default_factory=list)


def judge(returncode: int, stdout: str, stderr: str, *, required: bool) -> Verdict:
    """The verdict on one pip-audit run (its exit status and output)."""
    try:
        report: dict[str, Any] = json.loads(stdout)
        dependencies: list[dict[str, Any]] = report["dependencies"]
    except (ValueError, KeyError, TypeError):
        errors = [line for line in stderr.strip().splitlines() if line.strip()]
        reason = errors[-1] if errors else f"pip-audit exited {returncode} with no report"
        return _unavailable(
            f"pip-audit could not fetch advisories ({reason[:300]})", required=required
        )

    vulnerable = [d for d in dependencies if d.get("vulns")]
    if vulnerable:
        lines = ["FAILED: known vulnerabilities in the installed dependencies:"]
        for dep in vulnerable:
            for vuln in dep["vulns"]:
                fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed release yet"
                aliases = ", ".join(vuln.get("aliases") or [])
                ids = vuln["id"] + (f" ({aliases})" if aliases else "")
                lines.append(f"  {dep['name']} {dep['version']}: {ids}; fixed in {fixes}")
        return Verdict(1, lines)

    audited = [d for d in dependencies if "skip_reason" not in d]
    skipped = [d for d in dependencies if "skip_reason" in d]
    if not audited:
        return _unavailable(
            f"the advisory data for none of the {len(skipped)} installed dependencies could "
            "be fetched (PyPI's JSON API, pypi.org/pypi/<name>/<version>/json, did not answer "
            "for them)",
            required=required,
        )
    lines = [f"audit: no known vulnerabilities in {len(audited)} dependencies."]
    if skipped:
        names = ", ".join(sorted(d["name"] for d in skipped))
        lines.append(f"audit: not audited (no advisory data): {names}")
    return Verdict(0, lines)


def _unavailable(reason: str, *, required: bool) -> Verdict:
    if required:
        return Verdict(1, [f"FAILED: dependency audit not done (AUDIT_REQUIRED=true): {reason}."])
    return Verdict(
        0, [f"SKIPPED: dependency audit: {reason}. AUDIT_REQUIRED=true makes this a failure."]
    )


def main() -> int:
    done = subprocess.run(  # noqa: S603 (our interpreter, fixed arguments)
        PIP_AUDIT, capture_output=True, text=True, check=False, timeout=600
    )
    verdict = judge(
        done.returncode,
        done.stdout,
        done.stderr,
        required=os.environ.get("AUDIT_REQUIRED", "").strip().lower() == "true",
    )
    for line in verdict.lines:
        print(line)
    return verdict.status


if __name__ == "__main__":
    sys.exit(main())
