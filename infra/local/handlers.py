"""Load each function's handler from its CodeUri the way Lambda does, and invoke it in-process.

Modules are loaded by file path under a unique name per function (nothing edits sys.path), after
the environment is set. Each function's POWERTOOLS_SERVICE_NAME is applied while its module is
imported (Powertools reads it at construction), under a lock. A handler that fails to import is
one clear line naming the function; the traceback goes to .local/logs/handlers.log.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.local import paths
from infra.local.errors import LocalRuntimeError
from infra.local.template import Function, Resolver

log = logging.getLogger("infra.local.handlers")

# Set per function while its module imports; everything else must agree across functions.
PER_FUNCTION_ENV = {"POWERTOOLS_SERVICE_NAME"}

Handler = Callable[[dict[str, Any], Any], Any]

_import_lock = threading.Lock()


@dataclass
class LambdaContext:
    """Enough of Lambda's context object for Powertools, Chalice and our handlers."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float  # time.monotonic() when the invocation would time out

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass
class LoadedFunction:
    spec: Function
    name: str
    arn: str
    handler: Handler
    lock: threading.Lock  # Lambda runs one event at a time per execution environment

    def context(self) -> LambdaContext:
        return LambdaContext(
            function_name=self.name,
            function_version="$LATEST",
            invoked_function_arn=self.arn,
            memory_limit_in_mb=self.spec.memory_mb,
            aws_request_id=str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{self.name}",
            log_stream_name=time.strftime("%Y/%m/%d") + "/[$LATEST]local",
            deadline=time.monotonic() + self.spec.timeout,
        )

    def invoke(self, event: dict[str, Any]) -> Any:
        """Run the handler with a fresh context; exceptions propagate to the caller."""
        with self.lock:
            return self.handler(event, self.context())


def merged_environment(resolver: Resolver) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """(variables every function shares, per-function variables); fail on conflicting values."""
    shared: dict[str, str] = {}
    owner: dict[str, str] = {}
    per_function: dict[str, dict[str, str]] = {}
    for logical_id in resolver.spec.functions:
        env = resolver.function_environment(logical_id)
        per_function[logical_id] = {k: v for k, v in env.items() if k in PER_FUNCTION_ENV}
        for name, value in env.items():
            if name in PER_FUNCTION_ENV:
                continue
            if value.startswith("/opt/"):
                continue  # a path inside a Lambda layer; locally the package's own fallback applies
            if name in shared and shared[name] != value:
                raise LocalRuntimeError(
                    f"template.yaml: {owner[name]} and {logical_id} set {name} to different values; "
                    "the local runtime runs all functions in one process and needs them to agree"
                )
            shared[name] = value
            owner.setdefault(name, logical_id)
    return shared, per_function


def _handler_log() -> logging.Logger:
    logger = logging.getLogger("infra.local.handlers.tracebacks")
    if not logger.handlers:
        handler = logging.FileHandler(paths.logs_dir() / "handlers.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    return logger


def log_exception(what: str) -> None:
    """Full traceback to .local/logs/handlers.log (never to the HTTP client or the console)."""
    _handler_log().error("%s\n%s", what, traceback.format_exc())


def load_function(function: Function, resolver: Resolver, own_env: dict[str, str]) -> LoadedFunction:
    module_name_part, _, attribute = function.handler.rpartition(".")
    if not module_name_part or not attribute:
        raise LocalRuntimeError(f"{function.logical_id}: Handler {function.handler!r} is not 'module.attribute'")
    code_dir = resolver.spec.code_root / function.code_uri
    module_path = code_dir / (module_name_part.replace(".", "/") + ".py")
    if not module_path.is_file():
        raise LocalRuntimeError(f"{function.logical_id}: handler module {module_path} not found")
    module_name = f"recobro_fn_{function.logical_id}"
    spec = importlib.util.spec_from_file_location(module_name, module_path)
    if spec is None or spec.loader is None:
        raise LocalRuntimeError(f"{function.logical_id}: cannot load {module_path}")
    module = importlib.util.module_from_spec(spec)
    with _import_lock:
        saved = {name: os.environ.get(name) for name in own_env}
        os.environ.update(own_env)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:
            sys.modules.pop(module_name, None)
            log_exception(f"importing {function.logical_id} from {module_path}")
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise LocalRuntimeError(
                f"{function.logical_id} failed to import: {type(exc).__name__}: {first} "
                f"(traceback in {paths.logs_dir() / 'handlers.log'})"
            ) from None
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise LocalRuntimeError(f"{function.logical_id}: {module_path.name} has no callable {attribute!r}")
    return LoadedFunction(
        spec=function,
        name=resolver.function_name(function.logical_id),
        arn=resolver.function_arn(function.logical_id),
        handler=handler,
        lock=threading.Lock(),
    )
