"""CLI: `python -m infra.local up [--seed] [--persist] [--port-base N]` runs the stack in the foreground.

Prints the URLs, writes .local/demo.json when ready, and on Ctrl-C or SIGTERM stops every process
it started. Errors are one line on stderr and exit status 1; details stay in .local/logs/.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TextIO

from infra.local import paths
from infra.local.errors import LocalRuntimeError


class _Stop(BaseException):
    """Raised by the signal handler so start-up is interrupted too (not an Exception on purpose)."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the clean-up
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Stop


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description="Recobro's local runtime.")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="run the whole stack until Ctrl-C")
    up.add_argument("--seed", action="store_true", help="load demo merchants, claims and reminders")
    up.add_argument("--persist", action="store_true", help="keep DynamoDB data in .local/dynamodb (RECOBRO_PERSIST=1)")
    up.add_argument("--port-base", type=int, help="first of six ports (default 8710, or RECOBRO_PORT_BASE)")
    up.add_argument("--state-dir", type=Path, help="where logs and demo.json go (default .local, RECOBRO_LOCAL_DIR)")
    up.add_argument("--no-scheduler", action="store_true", help="fire schedules only through the control URL")
    up.add_argument("--verbose", action="store_true", help="show function logs here instead of in the log file")
    return parser


def _write_demo_json(urls: dict[str, str], api_keys: dict[str, str]) -> Path:
    path = paths.state_dir() / "demo.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "api": urls["api"],
        "pages": urls["pages"],
        "api_keys": api_keys,
        "outbox": urls["outbox"],
        "control": urls["control"],
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.chmod(0o600)  # it holds API keys
    tmp.replace(path)
    return path


def up(args: argparse.Namespace, console: TextIO) -> int:
    from infra.local.runtime import LocalStack, Ports

    if args.state_dir:
        os.environ["RECOBRO_LOCAL_DIR"] = str(args.state_dir.resolve())
    logs = paths.logs_dir()
    logging.basicConfig(
        filename=logs / "runtime.log", level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    ports = Ports.from_base(args.port_base) if args.port_base else Ports.default()
    stack = LocalStack(ports=ports, persist=args.persist or None, start_scheduler=not args.no_scheduler)
    demo_json = paths.state_dir() / "demo.json"
    demo_json.unlink(missing_ok=True)
    started = time.monotonic()
    function_log = None
    try:
        if not args.verbose:
            # Powertools loggers bind sys.stdout when handlers import: send them to a file.
            function_log = (logs / "functions.log").open("a", encoding="utf-8", buffering=1)
            sys.stdout = function_log
        print("Starting DynamoDB Local, moto and localstripe...", file=console, flush=True)
        urls = stack.start()
        from infra.local.seed import bootstrap_merchants, seed

        if args.seed:
            print("Seeding demo merchants, claims and reminders...", file=console, flush=True)
            result = seed(stack)
            api_keys = result.api_keys
            sent = len(stack.outbox_items())
            print(
                f"Seeded {sum(result.claims.values())} claims; {sent} messages in the outbox"
                + ("" if result.drained else " (still sending)"),
                file=console,
                flush=True,
            )
        else:
            api_keys = bootstrap_merchants()
        path = _write_demo_json(urls, api_keys)
        width = max(len(k) for k in urls)
        print(f"Recobro local stack ready in {time.monotonic() - started:.1f}s:", file=console)
        for name, url in urls.items():
            print(f"  {name.ljust(width)}  {url}", file=console)
        print(f"  API keys and URLs in {path}", file=console)
        print(f"  logs in {logs}", file=console)
        print("Press Ctrl-C to stop.", file=console, flush=True)
        while True:
            time.sleep(1)
            dead = [e for e in stack.engines if e.process is None or e.process.poll() is not None]
            if dead:
                raise LocalRuntimeError(f"{dead[0].name} stopped unexpectedly (log {dead[0].log_path})")
    except _Stop:
        print("Stopping...", file=console, flush=True)
        return 0
    except LocalRuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    except Exception as exc:
        logging.getLogger("infra.local").exception("unexpected failure")
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(
            f"error: {type(exc).__name__}: {first} (traceback in {logs / 'runtime.log'})", file=sys.stderr, flush=True
        )
        return 1
    finally:
        stack.stop()
        if function_log is not None:
            sys.stdout = console
            function_log.close()


def _stop_when_orphaned(poll_seconds: float = 0.5) -> None:
    """Stop like on SIGTERM if our parent goes away.

    Ctrl-C reaches the whole foreground process group, but a supervisor that sends SIGTERM to
    `make demo` alone kills make and would leave this runtime and its engines running.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
        _stop_when_orphaned()
    console = sys.stdout
    try:
        if args.command == "up":
            return up(args, console)
    except _Stop:
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
