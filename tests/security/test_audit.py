"""`make audit` (scripts/audit.py): fails on a known vulnerability; an audit that could not
happen is SKIPPED, or fails with AUDIT_REQUIRED=true, never passed off as clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.audit import judge

ROOT = Path(__file__).resolve().parents[2]

# pip-audit's JSON report (`--format json`), as it writes it.
CLEAN = {
    "dependencies": [
        {"name": "django", "version": "5.2.19", "vulns": []},
        {"name": "celery", "version": "5.7.0", "vulns": []},
        {"name": "private-lib", "skip_reason": "Dependency not found on PyPI ..."},
    ],
    "fixes": [],
}
VULNERABLE = {
    "dependencies": [
        {
            "name": "django",
            "version": "3.2.0",
            "vulns": [
                {
                    "id": "PYSEC-2021-98",
                    "fix_versions": ["2.2.24", "3.1.12", "3.2.4"],
                    "aliases": ["CVE-2021-33203"],
                }
            ],
        },
        {"name": "celery", "version": "5.7.0", "vulns": []},
    ],
    "fixes": [],
}
NOTHING_AUDITED = {
    "dependencies": [
        {"name": "django", "skip_reason": "Dependency not found on PyPI and could not be audited"},
        {"name": "celery", "skip_reason": "Dependency not found on PyPI and could not be audited"},
    ],
    "fixes": [],
}


@pytest.mark.parametrize("required", [False, True])
def test_a_known_vulnerability_fails_whether_required_or_not(required: bool) -> None:
    verdict = judge(1, json.dumps(VULNERABLE), "", required=required)

    assert verdict.status == 1
    text = "\n".join(verdict.lines)
    assert "django 3.2.0: PYSEC-2021-98 (CVE-2021-33203); fixed in 2.2.24, 3.1.12, 3.2.4" in text
    assert "celery" not in text


@pytest.mark.parametrize("required", [False, True])
def test_a_clean_audit_passes_and_names_what_it_could_not_audit(required: bool) -> None:
    verdict = judge(0, json.dumps(CLEAN), "", required=required)

    assert verdict.status == 0
    assert "no known vulnerabilities in 2 dependencies" in verdict.lines[0]
    assert "private-lib" in verdict.lines[1]


@pytest.mark.parametrize(
    ("returncode", "stdout", "stderr"),
    [
        (0, json.dumps(NOTHING_AUDITED), "No known vulnerabilities found"),
        (1, "", "requests.exceptions.ConnectionError: Max retries exceeded"),
    ],
    ids=["no-advisory-data", "no-network"],
)
def test_an_audit_that_did_not_happen_is_skipped_unless_required(
    returncode: int, stdout: str, stderr: str
) -> None:
    outside = judge(returncode, stdout, stderr, required=False)
    inside = judge(returncode, stdout, stderr, required=True)

    assert outside.status == 0
    assert outside.lines[0].startswith("SKIPPED: dependency audit")
    assert inside.status == 1
    assert inside.lines[0].startswith("FAILED: dependency audit not done (AUDIT_REQUIRED=true)")


@pytest.mark.parametrize(("required", "status"), [("", 0), ("true", 1)])
def test_make_audit_without_network_skips_or_fails_when_required(
    required: str, status: int
) -> None:
    # pip-audit for real, its requests sent to a proxy nobody listens on.
    env = {
        **os.environ,
        "AUDIT_REQUIRED": required,
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
    }
    done = subprocess.run(  # noqa: S603 (our interpreter and script)
        [sys.executable, str(ROOT / "scripts" / "audit.py")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == status, done.stdout + done.stderr
    assert ("SKIPPED" if status == 0 else "FAILED") in done.stdout
