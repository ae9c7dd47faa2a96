"""LocalStack: the whole stack on one machine, for the CLI (`python -m infra.local up`) and pytest.

Order matters: engines first, then resources from template.yaml, then the environment, and only
then the handlers are imported (they read env at import). stop() undoes everything, children
included, and is safe to call twice or after a failed start.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from infra.local import paths
from infra.local.control import ControlServer
from infra.local.engines import HOST, Engine, dynamodb_engine, ensure_port_free, moto_engine, stripe_engine
from infra.local.errors import LocalRuntimeError
from infra.local.gateway import ApiGateway, compile_route
from infra.local.handlers import LoadedFunction, load_function, merged_environment
from infra.local.outbox import Outbox, OutboxItem
from infra.local.pollers import QueuePoller
from infra.local.scheduler import ScheduledTarget, Scheduler, parse_expression
from infra.local.template import (
    API_SERVER_NAMES,
    REGION,
    LocalAddresses,
    Resolver,
    StackSpec,
    parse_template,
)
from infra.local.whatsapp_stub import WhatsAppStub

log = logging.getLogger("infra.local.runtime")

DEFAULT_PORT_BASE = 8710
PORT_NAMES = ("api", "pages", "control", "dynamodb", "moto", "stripe", "tracking")


@dataclass(frozen=True)
class Ports:
    api: int
    pages: int
    control: int
    dynamodb: int
    moto: int
    stripe: int
    tracking: int

    @classmethod
    def from_base(cls, base: int) -> Ports:
        return cls(*(base + offset for offset in range(len(PORT_NAMES))))

    @classmethod
    def default(cls) -> Ports:
        raw = os.environ.get("RECOBRO_PORT_BASE")
        try:
            return cls.from_base(int(raw) if raw else DEFAULT_PORT_BASE)
        except ValueError:
            raise LocalRuntimeError(f"RECOBRO_PORT_BASE={raw!r} is not a port number") from None

    @classmethod
    def free(cls) -> Ports:
        """Free ports picked by the OS (tests)."""
        from infra.local.engines import free_ports

        return cls(*free_ports(len(PORT_NAMES)))


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


class LocalStack:
    """Start with start() (or `with LocalStack(...) as stack:`); stop() stops every process."""

    def __init__(
        self,
        ports: Ports | None = None,
        persist: bool | None = None,
        visibility_scale: float | None = None,
        start_scheduler: bool = True,
        template_path: Path | None = None,
        extra_api_ports: dict[str, int] | None = None,
    ) -> None:
        self.ports = ports or Ports.default()
        self.persist = _flag("RECOBRO_PERSIST") if persist is None else persist
        if visibility_scale is None:
            raw = os.environ.get("RECOBRO_LOCAL_VISIBILITY_SCALE", "1.0")
            try:
                visibility_scale = float(raw)
            except ValueError:
                raise LocalRuntimeError(f"RECOBRO_LOCAL_VISIBILITY_SCALE={raw!r} is not a number") from None
        if visibility_scale <= 0:
            raise LocalRuntimeError("the visibility-timeout scale must be positive")
        self.visibility_scale = visibility_scale
        self.start_scheduler = start_scheduler
        self.template_path = template_path or paths.TEMPLATE_PATH
        self.extra_api_ports = extra_api_ports or {}
        self.spec: StackSpec | None = None
        self.resolver: Resolver | None = None
        self.engines: list[Engine] = []
        self.functions: dict[str, LoadedFunction] = {}
        self.gateways: dict[str, ApiGateway] = {}
        self.pollers: list[QueuePoller] = []
        self.scheduler: Scheduler | None = None
        self.control: ControlServer | None = None
        self.outbox: Outbox | None = None
        self.whatsapp: WhatsAppStub | None = None  # the Cloud API stand-in (channels/whatsapp.py)
        self.queue_urls: dict[str, str] = {}
        self.table_names: dict[str, str] = {}
        self.urls: dict[str, str] = {}
        self._sqs: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._stopped = threading.Event()

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> dict[str, str]:
        """Start everything; return the URLs. On any failure everything started so far is stopped."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> dict[str, str]:
        started = time.monotonic()
        spec = parse_template(self.template_path)
        self.spec = spec
        api_ports = self._api_ports(spec)
        for name, port in [*api_ports.values(), ("control", self.ports.control)]:
            ensure_port_free(port, f"the {name} server")
        api_urls = {api_id: f"http://{HOST}:{port}" for api_id, (_, port) in api_ports.items()}
        pages_api = next((a for a, (n, _) in api_ports.items() if n == "pages"), None)
        pages_url = api_urls[pages_api] if pages_api else f"http://{HOST}:{self.ports.pages}"
        moto_url = f"http://{HOST}:{self.ports.moto}"
        self.resolver = resolver = Resolver(spec, LocalAddresses(moto_url, api_urls, pages_url))
        shared_env, per_function_env = merged_environment(resolver)  # fail on conflicts before starting

        # Engines, in parallel: DynamoDB Local's JVM is the slow one.
        self.engines = [
            dynamodb_engine(self.ports.dynamodb, self.persist),
            moto_engine(self.ports.moto),
            stripe_engine(self.ports.stripe),
        ]
        self._start_engines()
        dynamodb_url = f"http://{HOST}:{self.ports.dynamodb}"
        stripe_url = f"http://{HOST}:{self.ports.stripe}"

        self.whatsapp = WhatsAppStub(HOST, 0, secrets.token_urlsafe(16))  # port 0: only the handlers call it
        self.whatsapp.start()
        self._set_environment(shared_env, dynamodb_url, moto_url, stripe_url, pages_url)
        self._create_resources()

        for logical_id, function in spec.functions.items():
            self.functions[logical_id] = load_function(function, resolver, per_function_env[logical_id])

        for api_id, (name, port) in api_ports.items():
            routes = [compile_route(r, self.functions[r.function_id]) for r in spec.routes if r.api_id == api_id]
            gateway = ApiGateway(name, api_id, routes, HOST, port)
            gateway.start()
            self.gateways[name] = gateway

        self._register_stripe_webhook(stripe_url, pages_url)

        import boto3

        for mapping in spec.queue_mappings:
            if not mapping.enabled:
                continue
            poller = QueuePoller(
                boto3.client("sqs", endpoint_url=moto_url, region_name=REGION),  # one client per thread
                self.queue_urls[mapping.queue_id],
                resolver.queue_arn(mapping.queue_id),
                self.functions[mapping.function_id],
                mapping.batch_size,
                mapping.report_batch_item_failures,
            )
            poller.start()
            self.pollers.append(poller)

        targets = [
            ScheduledTarget(
                logical_id=schedule.logical_id,
                expression=(expression := resolver.schedule_expression(schedule.logical_id)),
                timing=parse_expression(expression),
                function=self.functions[schedule.function_id],
                input=schedule.input,
                enabled=schedule.enabled,
            )
            for schedule in spec.schedules.values()
        ]
        self.scheduler = Scheduler(targets)
        if self.start_scheduler:
            self.scheduler.start()

        self.outbox = Outbox(moto_url, self.whatsapp)
        self.control = ControlServer(self, HOST, self.ports.control)
        self.control.start()
        self.urls = {
            **{name: gateway.url for name, gateway in self.gateways.items()},
            "control": self.control.url,
            "outbox": f"{self.control.url}/outbox",
            "dynamodb": dynamodb_url,
            "moto": moto_url,
            "stripe": stripe_url,
            "whatsapp": self.whatsapp.url,
        }
        self.urls.setdefault("pages", pages_url)
        log.info("local stack ready in %.1fs", time.monotonic() - started)
        return dict(self.urls)

    def _api_ports(self, spec: StackSpec) -> dict[str, tuple[str, int]]:
        fixed = {"api": self.ports.api, "pages": self.ports.pages, "tracking": self.ports.tracking}
        result: dict[str, tuple[str, int]] = {}
        for api_id in spec.apis:
            name = API_SERVER_NAMES.get(api_id, api_id)
            port = fixed.get(name, self.extra_api_ports.get(api_id))
            if port is None:
                raise LocalRuntimeError(
                    f"template.yaml: API {api_id} has no local port (known: {', '.join(API_SERVER_NAMES)}); "
                    "add it to API_SERVER_NAMES in infra/local/template.py"
                )
            result[api_id] = (name, port)
        return result

    def _start_engines(self) -> None:
        errors: list[BaseException] = []

        def run(engine: Engine) -> None:
            try:
                engine.start()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(e,), name=f"start-{e.name}") for e in self.engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    @staticmethod
    def _register_stripe_webhook(stripe_url: str, pages_url: str) -> None:
        """Point localstripe's signed events at our stripe_webhook route, as a Stripe dashboard would."""
        from urllib.parse import urlencode
        from urllib.request import Request, urlopen

        body = urlencode(
            [
                ("url", f"{pages_url}/stripe/webhook"),
                ("secret", os.environ["STRIPE_WEBHOOK_SECRET"]),
                ("events[]", "payment_intent.succeeded"),
                ("events[]", "payment_intent.payment_failed"),
            ]
        ).encode()
        request = Request(f"{stripe_url}/_config/webhooks/recobro", data=body, method="POST")  # noqa: S310
        with urlopen(request, timeout=5):  # noqa: S310 - a loopback URL we built
            pass

    def _set_environment(
        self, shared: dict[str, str], dynamodb_url: str, moto_url: str, stripe_url: str, pages_url: str
    ) -> None:
        env = dict(shared)
        env.update(
            {
                "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url,
                "AWS_ENDPOINT_URL_SQS": moto_url,
                "AWS_ENDPOINT_URL_SES": moto_url,
                "AWS_ENDPOINT_URL_SNS": moto_url,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_SESSION_TOKEN": "local",
                "RECOBRO_LINK_SECRET": self._link_secret(),
                "PAGES_BASE_URL": pages_url,
                "STRIPE_API_BASE": stripe_url,
                "STRIPE_SECRET_KEY": "sk_test_local",
                "STRIPE_WEBHOOK_SECRET": "whsec_local",  # tests sign Stripe events with it
                "STRIPE_PUBLISHABLE_KEY": "pk_test_local",
                "STRIPE_JS_BASE": stripe_url,  # localstripe's stand-in Stripe.js
                "STRIPE_UI": "card_element",  # the stand-in supports only the card element
                "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
                # Webhook endpoints may be http://127.0.0.1 receivers, and retries far in the
                # stack's (travelling) clock hop through SQS every second instead of every 900 s.
                "RECOBRO_ALLOW_HTTP_WEBHOOKS": "1",
                "RECOBRO_WEBHOOK_MAX_HOP_SECONDS": "1",
                "RECOBRO_STRIPE_MAX_WAIT_SECONDS": "1",  # a refund waiting for its payment looks again soon
                # Channels (docs/adr/0013): WhatsApp goes to the recording stand-in; inbound
                # webhooks are signed with these local secrets (tests sign with them too).
                "WHATSAPP_API_BASE": self.whatsapp.url if self.whatsapp else "",
                "WHATSAPP_ACCESS_TOKEN": self.whatsapp.token if self.whatsapp else "",
                "WHATSAPP_PHONE_NUMBER_ID": "100000000000001",
                "WHATSAPP_APP_SECRET": "whatsapp-app-secret-local",
                "WHATSAPP_VERIFY_TOKEN": "whatsapp-verify-local",
                "INBOUND_SMS_SECRET": "inbound-sms-secret-local",
            }
        )
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            if name in os.environ:
                self._saved_env.setdefault(name, os.environ[name])
                del os.environ[name]
        for name, value in env.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def _link_secret(self) -> str:
        if not self.persist:
            return secrets.token_urlsafe(32)
        path = paths.state_dir() / "link-secret"
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(32)
        path.write_text(secret + "\n", encoding="utf-8")
        path.chmod(0o600)
        return secret

    def _create_resources(self) -> None:
        import boto3

        assert self.spec is not None and self.resolver is not None
        resolver = self.resolver
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        existing = set(dynamodb.list_tables().get("TableNames", []))
        for logical_id in self.spec.tables:
            create = resolver.create_table_input(logical_id)
            self.table_names[logical_id] = create["TableName"]
            if create["TableName"] in existing:
                continue
            # No TimeToLiveSpecification here: DynamoDB Local deletes expired items within ~10 s
            # by the machine's clock, while the stack's clock travels (tests at 14:00, POST
            # /clock), so a page session opened "at 14:00" would vanish at night. The code checks
            # every expiry itself (AWS deletes up to days late anyway), so nothing depends on it.
            dynamodb.create_table(**create)
        sqs = boto3.client("sqs", region_name=REGION)
        self._sqs = sqs
        dlqs = resolver.dead_letter_queues()
        for logical_id in sorted(self.spec.queues, key=lambda q: q not in dlqs):  # DLQs first
            name = resolver.queue_name(logical_id)
            attributes: Any = resolver.queue_attributes(logical_id, self.visibility_scale)
            sqs.create_queue(QueueName=name, Attributes=attributes)
            self.queue_urls[logical_id] = resolver.queue_url(logical_id)
        sender = os.environ.get("SES_FROM_ADDRESS")
        if sender:
            boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=sender)

    def stop(self) -> None:
        """Stop servers, threads and every child process; restore the environment."""
        if self.control:
            self.control.stop()
            self.control = None
        if self.scheduler:
            self.scheduler.stop()
            self.scheduler = None
        for poller in self.pollers:
            poller._stop.set()
        for poller in self.pollers:
            poller.stop()
        self.pollers = []
        for gateway in self.gateways.values():
            gateway.stop()
        self.gateways = {}
        if self.whatsapp:
            self.whatsapp.stop()
            self.whatsapp = None
        for engine in reversed(self.engines):
            engine.stop()
        self.engines = []
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}

    # ------------------------------------------------------------ control backend
    def outbox_items(self) -> list[OutboxItem]:
        if self.outbox is None:
            raise LocalRuntimeError("the local stack is not running")
        return self.outbox.items()

    def fire(self, logical_id: str) -> Any:
        """Run a schedule's target now (by schedule or function logical id); return its result."""
        if self.scheduler is None:
            raise LocalRuntimeError("the local stack is not running")
        return self.scheduler.fire(logical_id)

    def queue_depths(self) -> dict[str, dict[str, int]]:
        assert self.resolver is not None
        dlqs = self.resolver.dead_letter_queues()
        depths = {}
        for logical_id, url in self.queue_urls.items():
            if logical_id in dlqs:
                continue
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            depths[logical_id] = {
                "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
                "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
                "delayed": int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
            }
        return depths

    def drain(self, timeout: float = 60.0) -> tuple[bool, dict[str, Any]]:
        """Wait until every queue (DLQs excluded) is empty and every poller idle, twice in a row."""
        deadline = time.monotonic() + timeout
        quiet_checks = 0
        depths: dict[str, dict[str, int]] = {}
        while True:
            busy = any(p.busy for p in self.pollers)
            depths = self.queue_depths()
            empty = all(sum(d.values()) == 0 for d in depths.values())
            quiet_checks = quiet_checks + 1 if (empty and not busy) else 0
            if quiet_checks >= 2:
                return True, {}
            if time.monotonic() >= deadline:
                report: dict[str, Any] = dict(depths)
                for poller in self.pollers:
                    if poller.busy:
                        report.setdefault("busy_consumers", []).append(poller.function.spec.logical_id)
                return False, report
            time.sleep(0.05)

    def health(self) -> dict[str, Any]:
        return {
            "ok": all(e.process is not None and e.process.poll() is None for e in self.engines),
            "engines": {e.name: {"pid": e.pid, "port": e.port} for e in self.engines},
            "pollers": {p.function.spec.logical_id: ("busy" if p.busy else "idle") for p in self.pollers},
            "urls": self.urls,
        }

    def child_pids(self) -> list[int]:
        return [e.pid for e in self.engines if e.pid is not None]
