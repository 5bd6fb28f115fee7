"""`make run-prod`: the whole production stack on one machine, as processes.

Against the PostgreSQL of `DATABASE_URL` and the Redis of `REDIS_URL` (both required), with
`DEBUG=false`: migrate, collect the static files, then run `WEB_WORKERS` (default 2) ASGI
processes on `HOST:PORT` (default 127.0.0.1:8000), one Celery worker and one Celery beat.
Every child's output is printed with its name in front. SIGINT or SIGTERM stops every
child (TERM, then KILL after `STOP_TIMEOUT` seconds) and exits 0; a child that dies stops
the others and the script exits 1.

Serving loopback over plain HTTP needs a few settings production would set; when they are
unset they are assumed, and printed: a secret key generated once into `DATA_DIR` (mode
0600), `ALLOWED_HOSTS` and `PUBLIC_BASE_URL` for loopback, no HTTPS redirect, and SMS
printed rather than sent (the checks hub.E010 and hub.E013 silenced). Serving any other
address assumes none of them: the system checks report what is missing.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import IO

BASE_DIR = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STOP_TIMEOUT = float(os.environ.get("STOP_TIMEOUT", "20"))
_print_lock = threading.Lock()


class Refused(Exception):
    """The environment cannot run production; the message says why."""


def say(text: str) -> None:
    with _print_lock:
        sys.stdout.write(f"run-prod | {text}\n")
        sys.stdout.flush()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def secret_key(data_dir: Path) -> tuple[str, bool]:
    """The key kept in `data_dir/secret_key`, made (mode 0600) the first time; and whether
    it was made now."""
    path = data_dir / "secret_key"
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
        if len(key) < 50:
            raise Refused(f"{path} holds no usable key; delete it or set SECRET_KEY") from None
        return key, False
    key = secrets.token_urlsafe(64)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key + "\n")
    return key, True


def production_env(environ: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The children's environment and what was assumed; `Refused` when it cannot work."""
    env = dict(environ)
    assumed: list[str] = []
    database = env.get("DATABASE_URL", "")
    if not database.startswith(("postgres://", "postgresql://", "pgsql://")):
        raise Refused(
            "DATABASE_URL must name the PostgreSQL database, e.g. "
            "DATABASE_URL=postgres://hub@127.0.0.1:5432/hub"
        )
    if not env.get("REDIS_URL", "").startswith(("redis://", "rediss://", "unix://")):
        raise Refused(
            "REDIS_URL must name the Redis server, e.g. REDIS_URL=redis://127.0.0.1:6379/0"
        )
    if env.get("DEBUG", "false").strip().lower() not in {"0", "false", "no", "off", ""}:
        assumed.append("DEBUG=false (production mode; DEBUG=true was ignored)")
    env["DEBUG"] = "false"
    env.setdefault("HOST", "127.0.0.1")
    env.setdefault("PORT", "8000")
    env.setdefault("WEB_WORKERS", "2")
    for name in ("PORT", "WEB_WORKERS"):
        if not env[name].isdigit() or int(env[name]) < 1:
            raise Refused(f"{name} must be a positive number, got {env[name]!r}")
    env.setdefault("EMBEDDED_SWEEP", "false")
    # A bounded connection pool per process (see DATABASE_POOL_SIZE in the README).
    env.setdefault("DATABASE_POOL_SIZE", "16")
    env.setdefault("PYTHONUNBUFFERED", "1")
    data_dir = Path(env.get("DATA_DIR") or BASE_DIR / "var")
    env["DATA_DIR"] = str(data_dir)
    if not env.get("SECRET_KEY"):
        env["SECRET_KEY"], made = secret_key(data_dir)
        where = data_dir / "secret_key"
        assumed.append(f"SECRET_KEY from {where}" + (" (generated now)" if made else ""))
    if not is_loopback(env["HOST"]):
        return env, assumed
    port = env["PORT"]
    own_public_url = "PUBLIC_BASE_URL" not in env
    local = {
        "ALLOWED_HOSTS": "127.0.0.1,localhost,[::1]",
        "SECURE_SSL_REDIRECT": "false",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    for name, value in local.items():
        if name not in env:
            env[name] = value
            assumed.append(f"{name}={value} (serving loopback only)")
    silenced = []
    if not env.get("SMS_BACKEND"):
        env["SMS_BACKEND"] = "console"
        silenced.append("hub.E010")
        assumed.append("SMS_BACKEND=console: SMS are printed, not sent (set SMS_BACKEND)")
    if own_public_url:
        silenced.append("hub.E013")  # plain http is all loopback has
    if silenced and "SILENCED_SYSTEM_CHECKS" not in env:
        env["SILENCED_SYSTEM_CHECKS"] = ",".join(silenced)
        assumed.append(f"SILENCED_SYSTEM_CHECKS={env['SILENCED_SYSTEM_CHECKS']} (loopback only)")
    return env, assumed


def prepare(env: dict[str, str]) -> None:
    """Check, migrate and collect static files; `Refused` with the output on failure."""
    steps = [
        ("check", ["check", "--fail-level", "ERROR"]),
        ("migrate", ["migrate", "--noinput"]),
        ("collectstatic", ["collectstatic", "--noinput", "-v0"]),
    ]
    for name, args in steps:
        say(f"manage.py {' '.join(args)}")
        done = subprocess.run(  # noqa: S603 (fixed command, no shell)
            [str(BIN / "python"), "manage.py", *args],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        output = (done.stdout + done.stderr).strip()
        if done.returncode != 0:
            raise Refused(f"{name} failed:\n{output}")
        for line in output.splitlines()[-5:] if name == "migrate" else []:
            say(f"  {line}")


def commands(env: dict[str, str]) -> dict[str, list[str]]:
    data_dir = Path(env["DATA_DIR"])
    return {
        "web": [
            str(BIN / "uvicorn"),
            "command_center.asgi:application",
            "--host",
            env["HOST"],
            "--port",
            env["PORT"],
            "--workers",
            env["WEB_WORKERS"],
            "--lifespan",
            "on",
            "--proxy-headers",
        ],
        "worker": [
            str(BIN / "celery"),
            "-A",
            "command_center",
            "worker",
            "--concurrency",
            env.get("CELERY_CONCURRENCY", "2"),
            "--hostname",
            f"worker-{os.getpid()}@%h",
        ],
        "beat": [
            str(BIN / "celery"),
            "-A",
            "command_center",
            "beat",
            "--schedule",
            str(data_dir / "celerybeat-schedule"),
        ],
    }


def relay_output(name: str, stream: IO[bytes]) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", errors="replace").rstrip("\n")
        with _print_lock:
            sys.stdout.write(f"{name:<8} | {line}\n")
            sys.stdout.flush()


class Stack:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False

    def start(self) -> None:
        for name, command in commands(self.env).items():
            child = subprocess.Popen(  # noqa: S603 (fixed command, no shell)
                command,
                cwd=BASE_DIR,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: KILL reaches its children
            )
            if child.stdout is not None:
                threading.Thread(
                    target=relay_output, args=(name, child.stdout), daemon=True
                ).start()
            self.children[name] = child
            say(f"started {name} (pid {child.pid}): {' '.join(command[1:4])} ...")

    def stop(self) -> None:
        """TERM every child; KILL the process group of any still alive after the timeout."""
        self.stopping = True
        for child in self.children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for name, child in self.children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop within {STOP_TIMEOUT:.0f} s: killing it")
            # Whatever the child left behind in its group (pool processes) goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()

    def watch(self) -> int:
        """Wait until a signal (exit 0) or a child's death (exit 1)."""
        while not self.stopping:
            for name, child in self.children.items():
                code = child.poll()
                if code is not None:
                    say(f"{name} exited with {code}: stopping the others")
                    self.stop()
                    return 1
            time.sleep(0.2)
        return 0


def main() -> int:
    try:
        env, assumed = production_env(dict(os.environ))
    except Refused as exc:
        print(f"run-prod: {exc}", file=sys.stderr)
        return 2
    for line in assumed:
        say(f"assumed {line}")
    stack = Stack(env)
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        stack.stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        prepare(env)
    except Refused as exc:
        print(f"run-prod: {exc}", file=sys.stderr)
        return 2
    if stopping.is_set():
        return 0
    stack.start()
    scheme_host = f"http://{env['HOST']}:{env['PORT']}"
    say(f"serving {scheme_host} with {env['WEB_WORKERS']} ASGI processes; Ctrl-C stops")
    code = stack.watch()
    if stopping.is_set():
        say("stopping")
        stack.stop()
        say("stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
