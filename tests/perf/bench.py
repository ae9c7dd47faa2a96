"""Benchmarks: handler cold-import cost and DynamoDB requests per unit of work.

    .venv/bin/python -m tests.perf.bench [--out .local/bench.json] [--claims 20] [--runs 5]

Reports figures, never pass/fail:
(a) per function in template.yaml: the median time to import its handler file by path in a fresh
    interpreter (with the environment the function gets), over the same for a bare handler that
    only imports boto3;
(b) DynamoDB requests per claim created (the real HTTP API), per claim read, per reminder planned
    (the planner's schedule), per reminder sent (the SQS consumer) and per Stripe payment received
    and reconciled (signed webhooks; the ledger path apart from the funnel counter and the
    receipt, which come after its commit), against a local stack on free ports. Every botocore
    client created in this process counts its DynamoDB calls, and each call is attributed to the
    function whose handler file is on the calling thread's stack.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

from recobro import clock

from tests import template_helpers as th
from tests.integration.claims import claim_body as integration_claim_body
from tests.perf import optimise_bench
from tests.perf.page_budget import page_budget

REPO = th.REPO_ROOT
BASELINE_HANDLER = "import boto3  # noqa: F401\n\n\ndef handler(event, context):\n    return {}\n"
IMPORT_PROBE = """
import importlib.util, sys, time
path, name, attribute = sys.argv[1:4]
started = time.perf_counter()
spec = importlib.util.spec_from_file_location(name, path)
module = importlib.util.module_from_spec(spec)
sys.modules[name] = module
spec.loader.exec_module(module)
getattr(module, attribute)
print(time.perf_counter() - started)
"""

# ============================================================================ formatting (pure)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def format_cell(value: object, spec: str | None = None) -> str:
    """One cell: "-" for None, floats with two decimals unless `spec` (a format spec) says otherwise."""
    if value is None:
        return "-"
    if spec is not None:
        return format(value, spec)
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], formats: Sequence[str | None] | None = None
) -> str:
    """A plain-text table: numbers right-aligned, text left-aligned, a rule under the headers."""
    specs = list(formats) if formats is not None else [None] * len(headers)
    if len(specs) != len(headers):
        raise ValueError(f"{len(specs)} formats for {len(headers)} headers")
    cells = [[format_cell(v, specs[i] if i < len(specs) else None) for i, v in enumerate(row)] for row in rows]
    for row in cells:
        if len(row) != len(headers):
            raise ValueError(f"row {row} has {len(row)} cells for {len(headers)} headers")
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [bool(rows) and all(_is_number(r[i]) or r[i] is None for r in rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(list(headers)), "  ".join("-" * w for w in widths), *(line(r) for r in cells)])


def render_report(report: dict[str, Any]) -> str:
    """The human-readable form of the JSON report."""
    sections = []
    imports = report.get("imports")
    if imports:
        baseline = imports["baseline_median_s"]
        rows = [[r["function"], r["handler"], r["median_s"] * 1000, r["ratio"]] for r in imports["functions"]]
        sections.append(
            f"Cold import of each handler, median of {imports['runs']} fresh interpreters "
            f"(baseline: a handler importing only boto3, {baseline * 1000:.1f} ms)\n"
            + format_table(["function", "handler", "median ms", "x baseline"], rows, [None, None, ".1f", ".2f"])
        )
    dynamodb = report.get("dynamodb")
    if dynamodb:
        rows = [
            [
                m["unit"],
                m["function"],
                m["units"],
                m["calls"],
                m["per_unit"],
                ", ".join(f"{op} {n}" for op, n in sorted(m["operations"].items())),
            ]
            for m in dynamodb["measures"]
        ]
        sections.append(
            "DynamoDB requests per unit of work (API calls as botocore makes them)\n"
            + format_table(["per", "function", "units", "calls", "calls/unit", "operations"], rows)
        )
    bulk = (dynamodb or {}).get("bulk_throughput")
    if bulk:
        rows = [
            ["POST /v1/claims/bulk", bulk["claims"], bulk["api_claims_per_s"], 1.0],
            [
                "raw BatchWriteItem, same items",
                bulk["claims"],
                bulk["raw_batch_write_claims_per_s"],
                1 / bulk["api_vs_raw"],
            ],
        ]
        sections.append(
            f"Bulk create throughput ({bulk['items_per_claim']:.1f} DynamoDB items per claim)\n"
            + format_table(["path", "claims", "claims/s", "x api"], rows, [None, None, ".0f", ".2f"])
        )
    reminders = (dynamodb or {}).get("reminder_throughput")
    if reminders:
        rows = [
            ["planner run + sender, drained", reminders["sent"], reminders["reminders_per_s"], 1.0],
            [
                "raw BatchWriteItem, same items",
                reminders["claims"],
                reminders["raw_batch_write_reminders_per_s"],
                reminders["raw_vs_flow"],
            ],
        ]
        sections.append(
            f"Reminder throughput ({reminders['items_per_reminder']:.1f} DynamoDB items per reminder)\n"
            + format_table(["path", "reminders", "reminders/s", "x flow"], rows, [None, None, ".1f", ".2f"])
        )
    page = (dynamodb or {}).get("page")
    if page:
        rows = [[step, size / 1024, size / page["target_bytes"]] for step, size in page["bytes_gzipped"].items()]
        sections.append(
            f"Payment page bytes: HTML with inline CSS and JS, gzipped (target {page['target_bytes'] // 1024} KB)\n"
            + format_table(["step", "KB gzipped", "x target"], rows, [None, ".1f", ".2f"])
        )
    if report.get("optimise"):
        sections.append(optimise_bench.render(report["optimise"]))
    return "\n\n".join(sections)


# ============================================================================ (a) cold imports


def handler_env(template: th.Template, function_id: str) -> dict[str, str]:
    """The environment the function gets from the template, intrinsics resolved to local stand-ins."""
    tables = th.resources(template, "AWS::DynamoDB::Table")
    variables = dict(th.global_env(template))
    properties = th.resources(template)[function_id].get("Properties") or {}
    variables.update((properties.get("Environment") or {}).get("Variables") or {})
    env = {}
    for name, value in variables.items():
        target = th.ref_target(value)
        if target in tables:
            env[name] = f"{th.DEFAULT_TABLE_PREFIX}{target}"
        elif target is not None:
            resolved = th.resolve_scalar(template, value)
            env[name] = str(resolved) if resolved is not None else f"https://{target.lower()}.example.invalid"
        elif isinstance(value, dict):
            env[name] = "https://resolved.example.invalid"
        else:
            env[name] = str(value)
    env.update(
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_REGION="eu-west-1",
        RECOBRO_LINK_SECRET="bench-secret",
        POWERTOOLS_TRACE_DISABLED="1",
    )
    return env


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")}


def time_import(path: Path, attribute: str, env: dict[str, str], cwd: Path) -> float:
    """Seconds to load `path` by file path in a fresh interpreter (interpreter start-up excluded)."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, str(path), f"bench_{path.parent.name}", attribute],
        env={**_base_env(), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"importing {path} failed:\n{result.stderr.strip()}")
    return float(result.stdout.strip().splitlines()[-1])


def bench_imports(template: th.Template, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="recobro-bench-") as scratch:
        cwd = Path(scratch)
        baseline = cwd / "baseline" / "app.py"
        baseline.parent.mkdir()
        baseline.write_text(BASELINE_HANDLER, encoding="utf-8")
        targets: dict[str, tuple[Path, str, dict[str, str]]] = {}
        for function_id in th.functions(template):
            path, attribute = th.handler_location(template, function_id)
            targets[function_id] = (path, attribute, handler_env(template, function_id))
        first = next(iter(targets.values()))[2] if targets else {}
        targets["(baseline)"] = (baseline, "handler", first)
        samples: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(runs):  # interleaved, so drift on the machine hits every target alike
            for name, (path, attribute, env) in targets.items():
                samples[name].append(time_import(path, attribute, env, cwd))
    baseline_median = statistics.median(samples.pop("(baseline)"))
    functions = []
    for function_id, values in samples.items():
        median = statistics.median(values)
        properties = th.resources(template)[function_id]["Properties"]
        functions.append(
            {
                "function": function_id,
                "handler": f"{properties['CodeUri']}/{properties['Handler']}",
                "median_s": median,
                "median_ms": round(median * 1000, 1),
                "samples_s": values,
                "ratio": median / baseline_median,
            }
        )
    return {"runs": runs, "baseline_median_s": baseline_median, "functions": functions}


# ============================================================================ (b) DynamoDB requests


@dataclass
class DynamoCounter:
    """Counts DynamoDB calls of every botocore client created while installed, per function."""

    handler_files: dict[str, str]  # absolute handler path -> function logical id
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)  # (function, operation) -> n
    attempts: Counter[str] = field(default_factory=Counter)  # function -> HTTP attempts (retries too)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attribute(self) -> str:
        frame = sys._getframe(1)
        while frame is not None:
            function_id = self.handler_files.get(frame.f_code.co_filename)
            if function_id is not None:
                return function_id
            frame = frame.f_back  # type: ignore[assignment]
        return "(other)"

    def _on_call(self, model: Any = None, **_: Any) -> None:
        operation = getattr(model, "name", "?")
        function_id = self.attribute()
        with self._lock:
            self.calls[(function_id, operation)] += 1

    def _on_send(self, **_: Any) -> None:
        function_id = self.attribute()
        with self._lock:
            self.attempts[function_id] += 1

    def watch(self, client: Any) -> None:
        if client.meta.service_model.service_name == "dynamodb":
            client.meta.events.register("before-call.dynamodb", self._on_call)
            client.meta.events.register("before-send.dynamodb", self._on_send)

    @contextmanager
    def installed(self) -> Iterator[DynamoCounter]:
        """Patch botocore so every client created from now on (boto3, PynamoDB, Powertools) is watched."""
        import botocore.session

        original: Callable[..., Any] = botocore.session.Session.create_client
        counter = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            counter.watch(client)
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            botocore.session.Session.create_client = original  # type: ignore[method-assign]

    def snapshot(self) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter(self.calls)


def _delta(after: Counter[tuple[str, str]], before: Counter[tuple[str, str]], function_id: str) -> dict[str, int]:
    return {op: n - before[(f, op)] for (f, op), n in after.items() if f == function_id and n - before[(f, op)] > 0}


def measure(unit: str, function_id: str, units: int, operations: dict[str, int]) -> dict[str, Any]:
    calls = sum(operations.values())
    return {
        "unit": unit,
        "function": function_id,
        "units": units,
        "calls": calls,
        "per_unit": calls / units if units else None,
        "operations": operations,
    }


def start_stack() -> tuple[Any, dict[str, str]]:
    """The local stack on free ports, scheduler off (the bench fires schedules itself).

    The one place that knows infra.local.runtime's API: returns (runtime with .fire, .drain,
    .outbox_items and .stop, its URLs). The stack's clock reads 14:00 UTC today, as in the
    integration tests, so the seeded debtors are inside their contact hours whenever it runs.
    """
    from infra.local.runtime import LocalStack, Ports

    clock.travel_to(datetime.combine(date.today(), time_of_day(14, 0), tzinfo=UTC))
    runtime = LocalStack(ports=Ports.free(), persist=False, visibility_scale=0.05, start_scheduler=False)
    urls = runtime.start()
    return runtime, urls


def claim_body(due: date) -> dict[str, Any]:
    return integration_claim_body(due=[due], amounts=[2500])


def http(method: str, url: str, api_key: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {api_key}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"{method} {url} -> {error.code}: {error.read()[:500]!r}") from None


@contextmanager
def stdout_to(path: Path) -> Iterator[None]:
    """Send this process's fd 1 (the handlers' JSON logs, child processes) to a file for a while."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    saved = os.dup(1)
    with path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def bench_dynamodb(template: th.Template, claims: int, log_path: Path) -> dict[str, Any]:
    handler_files = {}
    for function_id in th.functions(template):
        path, _ = th.handler_location(template, function_id)
        handler_files[str(path.resolve())] = function_id
    counter = DynamoCounter(handler_files)
    measures: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="recobro-bench-state-") as state,
        counter.installed(),
        stdout_to(log_path),
    ):
        saved_state_dir = os.environ.get("RECOBRO_LOCAL_DIR")
        os.environ.setdefault("RECOBRO_LOCAL_DIR", state)  # never share a running demo's logs
        runtime, urls = start_stack()
        try:
            from recobro.auth import issue_api_key
            from recobro.merchants import create_merchant

            merchant_id = f"bench-{uuid.uuid4().hex[:8]}"
            create_merchant(merchant_id, "Tienda Bench", f"ayuda@{merchant_id}.example")
            api_key = issue_api_key(merchant_id)
            overdue = date.today() - timedelta(days=2)

            before = counter.snapshot()
            created = [
                http(
                    "POST",
                    f"{urls['api']}/v1/claims",
                    api_key,
                    claim_body(overdue),
                    {"Idempotency-Key": uuid.uuid4().hex},
                )
                for _ in range(claims)
            ]
            after = counter.snapshot()
            measures.append(
                measure(
                    "claim created (Idempotency-Key)",
                    "MerchantApiFunction",
                    claims,
                    _delta(after, before, "MerchantApiFunction"),
                )
            )

            before = counter.snapshot()
            extra = [http("POST", f"{urls['api']}/v1/claims", api_key, claim_body(overdue)) for _ in range(claims)]
            after = counter.snapshot()
            measures.append(
                measure(
                    "claim created (no key)",
                    "MerchantApiFunction",
                    claims,
                    _delta(after, before, "MerchantApiFunction"),
                )
            )
            created += extra

            before = counter.snapshot()
            for claim in created[:claims]:
                http("GET", f"{urls['api']}/v1/claims/{claim['id']}", api_key)
            after = counter.snapshot()
            measures.append(
                measure("claim read", "MerchantApiFunction", claims, _delta(after, before, "MerchantApiFunction"))
            )

            sent_before = len(runtime.outbox_items())
            before = counter.snapshot()
            result = runtime.fire("ReminderPlannerFunction")
            drained, report = runtime.drain(timeout=180)
            if not drained:
                raise RuntimeError(f"queues did not drain: {report}")
            after = counter.snapshot()
            sent = len(runtime.outbox_items()) - sent_before
            enqueued = int(result["enqueued"]) if isinstance(result, dict) else 0
            if not sent or not enqueued:
                raise RuntimeError(f"no reminder went out ({enqueued} enqueued, {sent} sent): nothing to measure")
            measures.append(
                measure(
                    f"reminder planned ({len(created)} due claims)",
                    "ReminderPlannerFunction",
                    enqueued,
                    _delta(after, before, "ReminderPlannerFunction"),
                )
            )
            measures.append(
                measure("reminder sent", "MessageSenderFunction", sent, _delta(after, before, "MessageSenderFunction"))
            )

            measures += bench_reconciliation(urls, runtime, counter, merchant_id, created[:claims])

            reminders = bench_reminder_throughput(urls, runtime, counter, claims * 5)
            measures.append(reminders.pop("measure"))

            throughput = bench_bulk(urls, api_key, counter, bulk_size=claims * 10)
            measures.append(throughput.pop("measure"))

            page = page_budget(
                lambda body: http("POST", f"{urls['api']}/v1/claims", api_key, body),
                counter.snapshot,
                lambda after, before: _delta(after, before, "PaymentPageFunction"),
                measure,
            )
            measures.extend(page.pop("measures"))

            before = counter.snapshot()
            empty = runtime.fire("ReminderPlannerFunction")
            after = counter.snapshot()
            measures.append(
                measure(
                    "planner run with nothing due",
                    "ReminderPlannerFunction",
                    1,
                    _delta(after, before, "ReminderPlannerFunction"),
                )
            )
        finally:
            runtime.stop()
            clock.reset()
            if saved_state_dir is None:
                os.environ.pop("RECOBRO_LOCAL_DIR", None)
    return {
        "claims_per_measure": claims,
        "bulk_throughput": throughput,
        "reminder_throughput": reminders,
        "page": page,
        "planner_result": result,
        "empty_planner_result": empty,
        "measures": measures,
        "attempts_by_function": dict(counter.attempts),
        "calls_by_function": {
            f: sum(n for (g, _), n in counter.calls.items() if g == f) for f in {f for f, _ in counter.calls}
        },
    }


# ============================================================================ (b) Stripe reconciliation

# What the reconciler does after the commit that recorded a payment, by DynamoDB operation: the
# ledger path itself is one BatchGetItem and one TransactWriteItems.
LEDGER_PATH = ("BatchGetItem", "TransactWriteItems")
FUNNEL_COUNTER = ("UpdateItem",)
RECEIPT = ("GetItem",)  # the debtor (and the merchant's profile when this container has none cached)
# The claim's reminders of the 7 days before the payment earn their variants' reward (ADR 0014):
# one Query, and one more TransactWriteItems per reminder credited (none for the bench's claims
# unless their reminders were counted under a variant).
REWARDS = ("Query",)


def _signed_post(url: str, payload: str, secret: str) -> None:
    import hashlib
    import hmac

    timestamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(url, data=payload.encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Stripe-Signature", f"t={timestamp},v1={mac}")
    with urllib.request.urlopen(request, timeout=60):
        pass


def bench_reconciliation(
    urls: dict[str, str], runtime: Any, counter: DynamoCounter, merchant_id: str, claims: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One signed payment_intent.succeeded per claim through POST /stripe/webhook and the reconciler."""
    secret = os.environ["STRIPE_WEBHOOK_SECRET"]
    before = counter.snapshot()
    for claim in claims:
        payment_intent = {
            "id": f"pi_bench{uuid.uuid4().hex[:16]}",
            "object": "payment_intent",
            "amount": 1000,
            "amount_received": 1000,
            "currency": claim["currency"].lower(),
            "status": "succeeded",
            "metadata": {"merchant_id": merchant_id, "claim_id": claim["id"]},
        }
        event = {
            "id": f"evt_bench{uuid.uuid4().hex[:16]}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "data": {"object": payment_intent},
        }
        _signed_post(f"{urls['pages']}/stripe/webhook", json.dumps(event), secret)
    drained, report = runtime.drain(timeout=180)
    if not drained:
        raise RuntimeError(f"queues did not drain: {report}")
    after = counter.snapshot()
    reconciler = _delta(after, before, "ReconcilerFunction")
    if sum(reconciler.get(op, 0) for op in LEDGER_PATH) < 2 * len(claims):
        raise RuntimeError(f"the reconciler did not apply every payment: {reconciler}")

    def only(operations: tuple[str, ...]) -> dict[str, int]:
        return {op: n for op, n in reconciler.items() if op in operations}

    # Applying a payment is one BatchGetItem and one TransactWriteItems; crediting each reminder
    # sent in the 7 days before it (after the commit) is one more TransactWriteItems per reminder.
    applied = reconciler.get("BatchGetItem", 0)
    ledger = {"BatchGetItem": applied, "TransactWriteItems": min(applied, reconciler.get("TransactWriteItems", 0))}
    rewards = only(REWARDS)
    credits = reconciler.get("TransactWriteItems", 0) - ledger["TransactWriteItems"]
    if credits:
        rewards["TransactWriteItems"] = credits

    return [
        measure(
            "Stripe webhook received",
            "StripeWebhookFunction",
            len(claims),
            _delta(after, before, "StripeWebhookFunction"),
        ),
        measure("Stripe payment reconciled: ledger path", "ReconcilerFunction", len(claims), ledger),
        measure("  + funnel counter (after commit)", "ReconcilerFunction", len(claims), only(FUNNEL_COUNTER)),
        measure("  + payment receipt (after commit)", "ReconcilerFunction", len(claims), only(RECEIPT)),
        measure("  + reminder rewards (after commit)", "ReconcilerFunction", len(claims), rewards),
        measure("Stripe payment reconciled: all", "ReconcilerFunction", len(claims), reconciler),
    ]


# ============================================================================ (c) bulk throughput


def _raw_items(merchant_id: str, claim_ids: set[str]) -> list[tuple[str, dict[str, Any]]]:
    """The stored items of the bulk-created claims (claim, marker, debtor, event), serialized."""
    from recobro.storage.models import Claim, ClaimEvent, ClaimExternalRef, Debtor, claim_ref

    items: list[tuple[str, dict[str, Any]]] = []
    for claim in Claim.query(merchant_id):
        if isinstance(claim, Claim) and claim.claim_id in claim_ids:
            items.append((Claim.Meta.table_name, claim.serialize()))
            marker = ClaimExternalRef.get(merchant_id, "ext#" + claim.external_id)
            items.append((ClaimExternalRef.Meta.table_name, marker.serialize()))
            items.append((Debtor.Meta.table_name, Debtor.get(merchant_id, claim.debtor_id).serialize()))
            items += [
                (ClaimEvent.Meta.table_name, e.serialize())
                for e in ClaimEvent.query(claim_ref(merchant_id, claim.claim_id))
            ]
    return items


def bench_bulk(urls: dict[str, str], api_key: str, counter: DynamoCounter, bulk_size: int) -> dict[str, Any]:
    """Claims per second through POST /v1/claims/bulk against raw BatchWriteItem of the same items."""

    today = date.today()
    bodies = [claim_body(today + timedelta(days=30)) for _ in range(bulk_size)]
    before = counter.snapshot()
    started = time.perf_counter()
    result = http("POST", f"{urls['api']}/v1/claims/bulk", api_key, {"claims": bodies})
    api_seconds = time.perf_counter() - started
    after = counter.snapshot()
    created = {r["claim"]["id"] for r in result["results"] if r["status"] == 201}
    merchant_id = _merchant_of(api_key)
    items = _raw_items(merchant_id, created)
    raw_seconds = _batch_write(items)
    return {
        "claims": len(created),
        "items_per_claim": len(items) / max(len(created), 1),
        "api_claims_per_s": len(created) / api_seconds,
        "raw_batch_write_claims_per_s": len(created) / raw_seconds,
        "api_vs_raw": (len(created) / api_seconds) / (len(created) / raw_seconds),
        # Bulk create writes from a thread pool, whose frames do not lead back to the handler
        # file: calls made from no handler's thread during the request are the pool's.
        "measure": measure(
            f"claim created in bulk ({len(created)} per request)",
            "MerchantApiFunction",
            len(created),
            dict(Counter(_delta(after, before, "MerchantApiFunction")) + Counter(_delta(after, before, "(other)"))),
        ),
    }


# ============================================================================ (d) reminder throughput


def _reminder_items(merchant_id: str, claim_ids: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """What sending the reminders left in DynamoDB: each claim and its message slot, serialized."""
    from recobro.storage.models import Claim, Message, claim_ref

    items: list[tuple[str, dict[str, Any]]] = []
    for claim_id in claim_ids:
        items.append((Claim.Meta.table_name, Claim.get(merchant_id, claim_id).serialize()))
        items += [(Message.Meta.table_name, m.serialize()) for m in Message.query(claim_ref(merchant_id, claim_id))]
    return items


def _batch_write(items: list[tuple[str, dict[str, Any]]]) -> float:
    """Seconds to BatchWriteItem `items` (25 a request), retrying what comes back unprocessed."""
    import boto3

    client = boto3.client("dynamodb")
    started = time.perf_counter()
    for start in range(0, len(items), 25):
        requests: dict[str, list[dict[str, Any]]] = {}
        for table, item in items[start : start + 25]:
            requests.setdefault(table, []).append({"PutRequest": {"Item": item}})
        pending: dict[str, Any] = requests
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    return time.perf_counter() - started


def bench_reminder_throughput(urls: dict[str, str], runtime: Any, counter: DynamoCounter, count: int) -> dict[str, Any]:
    """Reminders per second through planner and sender (fire the schedule, drain the queue, every
    email in the outbox) against raw BatchWriteItem of the items they left, in the same run."""
    from recobro.auth import issue_api_key
    from recobro.merchants import create_merchant

    merchant_id = f"bench-send-{uuid.uuid4().hex[:8]}"
    create_merchant(merchant_id, "Tienda Envíos", f"ayuda@{merchant_id}.example")
    api_key = issue_api_key(merchant_id)
    overdue = date.today() - timedelta(days=2)
    claim_ids: list[str] = []
    for start in range(0, count, 100):
        bodies = [claim_body(overdue) for _ in range(min(100, count - start))]
        result = http("POST", f"{urls['api']}/v1/claims/bulk", api_key, {"claims": bodies})
        claim_ids += [r["claim"]["id"] for r in result["results"] if r["status"] == 201]
    sent_before = len(runtime.outbox_items())
    before = counter.snapshot()
    started = time.perf_counter()
    planned = runtime.fire("ReminderPlannerFunction")
    drained, report = runtime.drain(timeout=600)
    seconds = time.perf_counter() - started
    after = counter.snapshot()
    if not drained:
        raise RuntimeError(f"queues did not drain: {report}")
    sent = len(runtime.outbox_items()) - sent_before
    items = _reminder_items(merchant_id, claim_ids)
    raw_seconds = _batch_write(items)
    operations = Counter(_delta(after, before, "ReminderPlannerFunction")) + Counter(
        _delta(after, before, "MessageSenderFunction")
    )
    return {
        "claims": len(claim_ids),
        "planned": planned,
        "sent": sent,
        "items_per_reminder": len(items) / max(len(claim_ids), 1),
        "reminders_per_s": sent / seconds,
        "raw_batch_write_reminders_per_s": len(claim_ids) / raw_seconds,
        "raw_vs_flow": (len(claim_ids) / raw_seconds) / max(sent / seconds, 1e-9),
        "measure": measure(
            f"reminder planned and sent ({sent} reminders, one planner run)",
            "ReminderPlannerFunction+MessageSenderFunction",
            sent,
            dict(operations),
        ),
    }


def _merchant_of(api_key: str) -> str:
    from recobro.auth import authenticate

    return authenticate(f"Bearer {api_key}")


# ============================================================================ entry point


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / ".local" / "bench.json", help="JSON report path")
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per handler (median)")
    parser.add_argument("--claims", type=int, default=20, help="claims per DynamoDB measure")
    parser.add_argument("--skip-imports", action="store_true")
    parser.add_argument("--skip-dynamodb", action="store_true", help="no local stack")
    parser.add_argument(
        "--skip-optimise", action="store_true", help="no simulated optimisation (tests/perf/optimise_bench.py)"
    )
    args = parser.parse_args(argv)

    template = th.load_template()
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    started = time.monotonic()
    if not args.skip_imports:
        report["imports"] = bench_imports(template, args.runs)
    out = args.out if args.out.is_absolute() else Path.cwd() / args.out
    if not args.skip_dynamodb:
        log_path = out.with_suffix(".log")
        log_path.unlink(missing_ok=True)
        report["dynamodb"] = bench_dynamodb(template, args.claims, log_path)
        report["handler_log"] = str(log_path)
    if not args.skip_optimise:
        report["optimise"] = optimise_bench.run()
    report["seconds"] = round(time.monotonic() - started, 1)

    print(render_report(report))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nwritten to {out} in {report['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
