"""End-to-end fixtures: the real ASGI server in a subprocess and a real Chromium.

`live_hub` starts the hub the way `make run` does (migrate, demo data, uvicorn with the
lifespan on, so the embedded clock sweep runs) on its own SQLite file in a temporary
directory and a free loopback port. It never touches pytest-django's test database: the
tests talk to it over HTTP only, so nothing here is marked `django_db`.

The browser is Debian's Chromium at /usr/bin/chromium (Playwright's own browser download is
not used). Without it the browser tests are skipped, except under CI=true where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
BOOT_TIMEOUT_S = 30.0
SETUP_TIMEOUT_S = 300.0
# Short, so that the tests see the embedded sweep run several times.
SWEEP_SECONDS = "2"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


class LiveHub(str):
    """The base URL of the running hub (a str), with where its data and log live."""

    data_dir: Path
    db_path: Path
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_offset_at_start: int

    def manage(self, *args: str) -> str:
        """Run `manage.py ARGS` against this hub's database; returns its standard output."""
        return _manage(self.env, *args)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_since_start(self) -> str:
        """The server's output after it first answered (startup noise excluded)."""
        return self.log()[self.log_offset_at_start :]


def api_call(
    base: str, method: str, path: str, token: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    """One JSON request to a running hub with a bearer token: (status, body)."""
    request = urllib.request.Request(  # noqa: S310 (loopback only)
        f"{base}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def api_post(base: str, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST that must succeed; returns the answer's body."""
    status, answer = api_call(base, "POST", path, token, body)
    assert 200 <= status < 300, (path, status, answer)
    return answer


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _hub_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    # The e2e run has its own SQLite file and the embedded mode (in-memory channel layer,
    # sweep in the ASGI process), whatever the surrounding test run uses.
    for name in ("DATABASE_URL", "REDIS_URL", "EMBEDDED_SWEEP", "SECURE_SSL_REDIRECT"):
        env.pop(name, None)
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "DEBUG": "true",
            "DJANGO_SETTINGS_MODULE": "command_center.settings",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CLOCK_SWEEP_SECONDS": SWEEP_SECONDS,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    command = [str(VENV_BIN / "python"), "manage.py", *args]
    try:
        done = subprocess.run(  # noqa: S603 (fixed command, no shell)
            command,
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=SETUP_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`manage.py {' '.join(args)}` took over {SETUP_TIMEOUT_S:.0f} s: {exc}")
    if done.returncode != 0:
        pytest.fail(
            f"`manage.py {' '.join(args)}` failed ({done.returncode}):\n"
            f"{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def _tail(log_path: Path, chars: int = 6000) -> str:
    return log_path.read_text(encoding="utf-8", errors="replace")[-chars:]


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"the hub exited with {process.returncode} before serving; the end of its "
                "output:\n" + _tail(log_path)
            )
        try:
            with urllib.request.urlopen(f"{url}/accounts/login/", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
                last_error = f"status {response.status}"
        except urllib.error.HTTPError as exc:
            last_error = f"status {exc.code}"
            if exc.code >= 500:
                break  # up, but the page is broken: waiting will not help
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last_error = repr(exc)
        time.sleep(0.2)
    pytest.fail(
        f"the hub did not answer GET /accounts/login/ with 200 within {BOOT_TIMEOUT_S:.0f} s "
        f"(last: {last_error}); the end of its output:\n" + _tail(log_path)
    )


def serve(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """Start uvicorn on `port` the way `make run` does (lifespan on); output to `log_path`."""
    with log_path.open("ab") as log_file:
        return subprocess.Popen(  # noqa: S603 (fixed command, no shell)
            [
                str(VENV_BIN / "uvicorn"),
                "command_center.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--lifespan",
                "on",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def new_hub(cases: int = 30) -> LiveHub:
    """A migrated, seeded hub (not yet serving): its own temporary folder and port."""
    data_dir = Path(tempfile.mkdtemp(prefix="hub-e2e-"))
    env = _hub_env(data_dir)
    _manage(env, "migrate", "--noinput")
    _manage(env, "seed_demo", "--cases", str(cases))
    hub = LiveHub(f"http://127.0.0.1:{_free_port()}")
    hub.data_dir = data_dir
    hub.db_path = data_dir / "hub.sqlite3"
    hub.log_path = data_dir / "server.log"
    hub.env = env
    return hub


def start(hub: LiveHub) -> None:
    """Serve `hub` (again, after a stop) on its port and wait until it answers."""
    port = int(hub.rsplit(":", 1)[1])
    hub.process = serve(hub.env, port, hub.log_path)
    _wait_until_up(str(hub), hub.process, hub.log_path)
    hub.log_offset_at_start = len(hub.log())


def discard(hub: LiveHub) -> None:
    if getattr(hub, "process", None) is not None:
        stop(hub.process)
    if os.environ.get("E2E_KEEP_DATA", "") != "1":
        shutil.rmtree(hub.data_dir, ignore_errors=True)


@pytest.fixture(scope="package")
def live_hub() -> Iterator[LiveHub]:
    """The hub served by uvicorn from a fresh SQLite file with 30 demo cases, for this folder."""
    hub = new_hub()
    try:
        start(hub)
        yield hub
    finally:
        discard(hub)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for this folder's tests.

    Package-scoped, not session-scoped: Playwright's sync API runs an event loop in the main
    thread while it is open, and the async tests that pytest collects after this folder
    cannot run beside it. The browser and Playwright end with the folder's last test.
    """
    if not CHROMIUM.exists():
        message = "Chromium not installed at /usr/bin/chromium (apt-get install chromium)"
        if in_ci():
            pytest.fail(f"{message}; CI=true, so the end-to-end tests may not be skipped")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def browser_locale() -> str:
    """Override in a test module (or parametrize) to browse in another language."""
    return "zh-CN"


@pytest.fixture
def page(browser: Any, browser_locale: str) -> Iterator[Any]:
    context = browser.new_context(locale=browser_locale, timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def artifacts_dir(live_hub: LiveHub) -> Path:
    """Where screenshots go: the hub's temporary directory (kept with E2E_KEEP_DATA=1)."""
    path = live_hub.data_dir / "artifacts"
    path.mkdir(exist_ok=True)
    return path


def in_language(language: str, message: str) -> str:
    """`message` as the hub's catalogue gives it in `language` (for text shown in a page)."""
    from django.utils import translation

    with translation.override(language):
        return translation.gettext(message)


def api_get(hub: str, token: str, path: str) -> dict[str, Any]:
    """GET `path` from a running hub with a bearer token; the body, after checking 200."""
    status, body = api_call(hub, "GET", path, token)
    assert status == 200, (path, status, body)
    return body
