"""The local runtime against the real engines: template reading, gateway, pollers, control, CLI."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.local import paths
from infra.local.engines import free_port_base, free_ports, port_is_free
from infra.local.errors import LocalRuntimeError
from infra.local.gateway import ApiGateway, compile_route
from infra.local.handlers import LoadedFunction
from infra.local.pollers import QueuePoller
from infra.local.runtime import LocalStack, Ports
from infra.local.scheduler import Cron, Rate, parse_expression
from infra.local.template import REGION, LocalAddresses, Resolver, Route, parse_template
from infra.local.template import Function as FunctionSpec

pytestmark = pytest.mark.integration


# ---------------------------------------------------------------- helpers and fixtures


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw, status, ctype = response.read(), response.status, response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        raw, status, ctype = exc.read(), exc.code, exc.headers.get("Content-Type", "")
    return status, (json.loads(raw) if "json" in ctype and raw else raw)


def fake_function(logical_id: str, handler: Any, timeout: int = 10) -> LoadedFunction:
    spec = FunctionSpec(logical_id, "tests", "app.handler", timeout, 128, {})
    return LoadedFunction(
        spec,
        f"test-{logical_id}",
        f"arn:aws:lambda:{REGION}:123456789012:function:{logical_id}",
        handler,
        threading.Lock(),
    )


@pytest.fixture()
def stack(local_stack: LocalStack) -> LocalStack:
    """The session's shared stack (see conftest.py): one per process, as the handlers cache clients."""
    return local_stack


@pytest.fixture()
def sqs(stack: LocalStack):
    return boto3.client("sqs", endpoint_url=stack.urls["moto"], region_name=REGION)


# ---------------------------------------------------------------- template


def test_template_is_read_into_tables_queues_functions_routes_and_schedules():
    spec = parse_template(paths.TEMPLATE_PATH)

    assert {
        "MerchantsTable",
        "ApiKeysTable",
        "ClaimsTable",
        "DebtorsTable",
        "MessagesTable",
        "IdempotencyTable",
    } <= set(spec.tables)
    claims = spec.tables["ClaimsTable"].create_input
    assert "by_next_action" in {index["IndexName"] for index in claims["GlobalSecondaryIndexes"]}
    assert spec.tables["MessagesTable"].ttl_attribute == "expires_at"

    assert spec.queues["MessageJobsQueue"].dead_letter_target == "MessageJobsDLQ"
    assert spec.queues["MessageJobsQueue"].max_receive_count == 5

    api = spec.functions["MerchantApiFunction"]
    assert (api.code_uri, api.handler) == ("functions/merchant_api", "app.app")
    assert spec.functions["ReminderPlannerFunction"].timeout == 60
    assert "CLAIMS_TABLE" in api.environment  # Globals merged by the translator

    routes = {(r.api_id, r.method, r.path, r.function_id) for r in spec.routes}
    assert ("MerchantApi", "POST", "/v1/claims", "MerchantApiFunction") in routes
    assert ("MerchantApi", "GET", "/v1/claims/{claim_id}", "MerchantApiFunction") in routes
    assert ("PagesApi", "GET", "/p/{token}", "PaymentPageFunction") in routes

    [mapping] = [m for m in spec.queue_mappings if m.function_id == "MessageSenderFunction"]
    assert (mapping.queue_id, mapping.batch_size, mapping.report_batch_item_failures) == ("MessageJobsQueue", 10, True)

    [schedule] = [s for s in spec.schedules.values() if s.function_id == "ReminderPlannerFunction"]
    resolver = Resolver(
        spec,
        LocalAddresses(
            "http://127.0.0.1:1",
            {
                "MerchantApi": "http://127.0.0.1:2",
                "PagesApi": "http://127.0.0.1:3",
                "TrackingApi": "http://127.0.0.1:4",
            },
            "http://127.0.0.1:3",
        ),
    )
    assert resolver.schedule_expression(schedule.logical_id) == "rate(5 minutes)"
    sender_env = resolver.function_environment("MessageSenderFunction")
    assert sender_env["PAGES_BASE_URL"] == "http://127.0.0.1:3"
    assert sender_env["TRACKING_BASE_URL"] == "http://127.0.0.1:4"
    assert sender_env["CLAIMS_TABLE"] == "recobro-ClaimsTable"
    planner_env = resolver.function_environment("ReminderPlannerFunction")
    assert planner_env["MESSAGE_JOBS_QUEUE_URL"] == "http://127.0.0.1:1/123456789012/recobro-MessageJobsQueue"
    redrive = json.loads(resolver.queue_attributes("MessageJobsQueue", 0.01)["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":recobro-MessageJobsDLQ")
    assert resolver.queue_attributes("MessageJobsQueue", 0.01)["VisibilityTimeout"] == "2"

    with pytest.raises(LocalRuntimeError, match="cannot map Ref NoSuchThing"):
        resolver.resolve({"Ref": "NoSuchThing"}, "a test")
    assert resolver.resolve({"Fn::Sub": "${AWS::Region}/${MessageJobsQueue.QueueName}"}, "t") == (
        "eu-west-1/recobro-MessageJobsQueue"
    )


def test_schedule_expressions():
    assert parse_expression("rate(5 minutes)") == Rate(timedelta(minutes=5))
    assert parse_expression("rate(1 day)") == Rate(timedelta(days=1))
    cron = parse_expression("cron(30 2 * * ? *)")
    assert isinstance(cron, Cron)
    start = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)
    assert cron.next_after(start) == datetime(2026, 3, 2, 2, 30, tzinfo=UTC)
    weekdays = parse_expression("cron(0 9 ? * MON-FRI *)")
    assert isinstance(weekdays, Cron)
    assert weekdays.next_after(datetime(2026, 3, 6, 10, 0, tzinfo=UTC)) == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    with pytest.raises(LocalRuntimeError):
        parse_expression("every now and then")


# ---------------------------------------------------------------- gateway


def test_gateway_builds_rest_proxy_events_and_shapes_errors():
    seen: list[dict[str, Any]] = []

    def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        if event["path"].endswith("/boom"):
            raise RuntimeError("boom")
        return {
            "statusCode": 201,
            "headers": {"Content-Type": "application/octet-stream"},
            "body": base64.b64encode(b"\x00\xffok").decode(),
            "isBase64Encoded": True,
        }

    function = fake_function("Echo", echo)
    routes = [
        compile_route(Route("TestApi", "POST", "/v1/things/{thing_id}", "Echo"), function),
        compile_route(Route("TestApi", "GET", "/v1/things/{thing_id}", "Echo"), function),
    ]
    [port] = free_ports(1)
    gateway = ApiGateway("test", "TestApi", routes, "127.0.0.1", port)
    gateway.start()
    try:
        status, body = http(
            "POST",
            f"{gateway.url}/v1/things/a%20b?x=1&x=2&y=",
            b"\xff\xfe",
            {"Content-Type": "application/octet-stream", "X-Test": "1"},
        )
        assert (status, body) == (201, b"\x00\xffok")
        event = seen[-1]
        assert event["resource"] == event["requestContext"]["resourcePath"] == "/v1/things/{thing_id}"
        assert event["pathParameters"] == {"thing_id": "a b"}
        assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
        assert event["queryStringParameters"]["x"] == "2"
        assert event["isBase64Encoded"] and base64.b64decode(event["body"]) == b"\xff\xfe"
        assert event["headers"]["X-Test"] == "1" and event["requestContext"]["stage"] == "live"
        assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"

        assert http("GET", f"{gateway.url}/nowhere")[0] == 404
        status, body = http("DELETE", f"{gateway.url}/v1/things/x")
        assert (status, body["error"]["code"]) == (405, "method_not_allowed")
        status, body = http("GET", f"{gateway.url}/v1/things/boom")
        assert (status, body["error"]["code"]) == (502, "internal_error")
        assert "Traceback" not in json.dumps(body)

        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"POST /v1/things/x HTTP/1.1\r\nHost: x\r\nContent-Length: 20000000\r\n\r\n")
            reply: bytes = b""
            while chunk := conn.recv(4096):
                reply += chunk
        text = reply.decode()
        assert text.startswith("HTTP/1.1 413") and "payload_too_large" in text
    finally:
        gateway.stop()


def test_unknown_route_is_a_404_json(stack: LocalStack):
    status, body = http("GET", f"{stack.urls['api']}/v1/no-such-thing")
    assert status == 404
    assert body["error"]["code"] == "not_found"


# ---------------------------------------------------------------- SQS pollers


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_poller_partial_batch_failure_and_redrive_to_dlq(stack: LocalStack, sqs: Any):
    suffix = str(int(time.time() * 1000))
    dlq_url = sqs.create_queue(QueueName=f"test-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=f"test-q-{suffix}",
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
        },
    )["QueueUrl"]
    processed: list[str] = []
    attempts: dict[str, int] = {}
    records: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures = []
        for record in event["Records"]:
            records.append(record)
            attempts[record["body"]] = attempts.get(record["body"], 0) + 1
            if record["body"] == "always-fails":
                failures.append({"itemIdentifier": record["messageId"]})
            else:
                processed.append(record["body"])
        return {"batchItemFailures": failures}

    poller = QueuePoller(
        sqs,
        queue_url,
        "arn:aws:sqs:eu-west-1:123456789012:test",
        fake_function("Partial", handler),
        batch_size=10,
        report_batch_item_failures=True,
    )
    poller.start()
    try:
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {
                    "Id": "1",
                    "MessageBody": "ok-1",
                    "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "a"}},
                },
                {"Id": "2", "MessageBody": "always-fails"},
                {"Id": "3", "MessageBody": "ok-2"},
            ],
        )

        def in_dlq() -> bool:
            got = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=0).get("Messages") or []
            return any(m["Body"] == "always-fails" for m in got)

        _wait(in_dlq, 15, "the failing message to reach the DLQ")
        assert sorted(processed) == ["ok-1", "ok-2"]  # deleted after the first batch: never redelivered
        assert attempts["always-fails"] == 2  # maxReceiveCount
        first = next(r for r in records if r["body"] == "ok-1")
        assert first["eventSource"] == "aws:sqs" and first["eventSourceARN"].endswith(":test")
        assert first["attributes"]["ApproximateReceiveCount"] == "1"
        assert first["messageAttributes"]["kind"]["stringValue"] == "a"
        assert first["md5OfBody"] and first["receiptHandle"] and first["awsRegion"] == REGION
        _wait(lambda: not poller.busy, 5, "the poller to go idle")
    finally:
        poller.stop()
        sqs.delete_queue(QueueUrl=queue_url)
        sqs.delete_queue(QueueUrl=dlq_url)


def test_poller_deletes_nothing_when_the_handler_raises(stack: LocalStack, sqs: Any):
    queue_url = sqs.create_queue(
        QueueName=f"test-raise-{int(time.time() * 1000)}", Attributes={"VisibilityTimeout": "1"}
    )["QueueUrl"]
    calls: list[list[str]] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        calls.append([r["body"] for r in event["Records"]])
        if len(calls) == 1:
            raise RuntimeError("transient")

    poller = QueuePoller(sqs, queue_url, "arn:test", fake_function("Raises", handler), 10, True)
    poller.start()
    try:
        sqs.send_message(QueueUrl=queue_url, MessageBody="again")
        _wait(lambda: len(calls) >= 2, 10, "the batch to be retried")
        assert calls[:2] == [["again"], ["again"]]

        def empty() -> bool:
            attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
            return bool(
                attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
            )

        _wait(empty, 5, "the retried batch to be deleted")
    finally:
        poller.stop()
        sqs.delete_queue(QueueUrl=queue_url)


# ---------------------------------------------------------------- control surface


def test_clock_moves_the_stack_clock(stack: LocalStack):
    from recobro import clock

    control = stack.urls["control"]
    try:
        status, body = http("POST", f"{control}/clock", {"now": "2030-01-02T03:04:05Z"})
        assert status == 200
        assert abs((clock.now() - datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)).total_seconds()) < 5
        assert body["now"].startswith("2030-01-02T03:04")
        assert http("GET", f"{control}/clock")[1]["now"].startswith("2030-01-02")
        for bad in ({"now": "yesterday"}, {"now": "2030-01-02T03:04:05"}, {}, [1]):
            status, body = http("POST", f"{control}/clock", bad)
            assert status == 400 and body["error"]["code"] == "validation_error"
    finally:
        clock.reset()


def test_drain_returns_when_queues_are_empty(stack: LocalStack, sqs: Any):
    control = stack.urls["control"]
    assert http("POST", f"{control}/drain?timeout=10") == (200, {"drained": True})

    queue_url = stack.queue_urls["MessageJobsQueue"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="{}", DelaySeconds=30)
    try:
        status, body = http("POST", f"{control}/drain?timeout=0.3")
        assert status == 504 and body["drained"] is False
        assert body["queues"]["MessageJobsQueue"]["delayed"] == 1
    finally:
        sqs.purge_queue(QueueUrl=queue_url)
    assert http("POST", f"{control}/drain?timeout=10")[0] == 200


def test_fire_schedule_and_health(stack: LocalStack):
    control = stack.urls["control"]
    status, body = http("POST", f"{control}/schedules/ReminderPlannerFunction/fire")
    assert status == 200 and "result" in body
    schedule_id = next(iter(stack.scheduler.targets)) if stack.scheduler else ""
    assert http("POST", f"{control}/schedules/{schedule_id}/fire")[0] == 200
    assert http("POST", f"{control}/schedules/NoSuchSchedule/fire")[0] == 404
    status, health = http("GET", f"{control}/health")
    assert status == 200 and health["ok"] is True
    status, outbox = http("GET", f"{control}/outbox.json")
    assert status == 200 and isinstance(outbox, list)
    assert http("GET", f"{control}/outbox")[0] == 200
    assert http("POST", f"{control}/drain?timeout=20")[0] == 200


def test_seed_loads_claims_through_the_api(stack: LocalStack):
    from infra.local import seed

    keys = seed.bootstrap_merchants()
    assert set(keys) == {"demo", "other"}
    counts = seed.seed_claims(stack.urls["api"], keys, per_merchant={"demo": 3, "other": 1}, random_seed=7)
    assert counts == {"demo": 3, "other": 1}
    status, _ = http(
        "GET", f"{stack.urls['api']}/v1/claims/clm_doesnotexist", headers={"Authorization": f"Bearer {keys['other']}"}
    )
    assert status == 404


def test_outbox_reads_raw_ses_mail(stack: LocalStack):
    ses = boto3.client("ses", endpoint_url=stack.urls["moto"], region_name=REGION)
    raw = (
        "From: reminders@recobro.example\r\nTo: someone@example.com\r\nSubject: Test outbox\r\n"
        "X-Recobro-Claim-Id: clm_test\r\nX-Recobro-Message-Id: msg_test\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nPay here: http://127.0.0.1:1/p/abc.\r\n"
    )
    ses.send_raw_email(
        Source="reminders@recobro.example", Destinations=["someone@example.com"], RawMessage={"Data": raw}
    )
    items = http("GET", f"{stack.urls['control']}/outbox.json")[1]
    item = next(i for i in items if i["subject"] == "Test outbox")
    assert item == item | {
        "channel": "email",
        "recipient": "someone@example.com",
        "claim_id": "clm_test",
        "message_id": "msg_test",
        "links": ["http://127.0.0.1:1/p/abc"],
    }
    assert items[0]["subject"] == "Test outbox"  # newest first


# ---------------------------------------------------------------- start-up errors and the CLI


def _cli(*args: str, state: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "RECOBRO_LOCAL_DIR": str(state), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "infra.local", "up", *args],
        cwd=paths.REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_taken_port_is_one_clear_error_line(tmp_path: Path):
    base = free_port_base()
    holder = socket.socket()
    holder.bind(("127.0.0.1", base + 3))  # the DynamoDB Local port
    holder.listen()
    try:
        with pytest.raises(LocalRuntimeError, match=f"port {base + 3} for dynamodb is already in use"):
            LocalStack(ports=Ports.from_base(base)).start()
        process = _cli("--port-base", str(base), state=tmp_path)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 1
        assert err.strip().splitlines() == [err.strip()]
        assert f"port {base + 3} for dynamodb is already in use" in err
        assert "Traceback" not in err + out
    finally:
        holder.close()
    assert all(port_is_free(base + i) for i in (0, 1, 2, 4, 5))


def test_cli_up_writes_demo_json_and_sigterm_stops_every_process(tmp_path: Path):
    base = free_port_base()
    process = _cli("--port-base", str(base), "--no-scheduler", state=tmp_path)
    demo_json = tmp_path / "demo.json"
    try:
        deadline = time.monotonic() + 60
        while not demo_json.exists():
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "demo.json not written within 60 s"
            time.sleep(0.2)
        demo = json.loads(demo_json.read_text())
        assert demo["api"] == f"http://127.0.0.1:{base}"
        assert demo["pages"] == f"http://127.0.0.1:{base + 1}"
        assert demo["control"] == f"http://127.0.0.1:{base + 2}"
        assert demo["outbox"] == f"http://127.0.0.1:{base + 2}/outbox"
        assert set(demo["api_keys"]) == {"demo", "other"}
        health = http("GET", f"{demo['control']}/health")[1]
        pids = [engine["pid"] for engine in health["engines"].values()]
        assert len(pids) == 3

        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert all(port_is_free(base + i) for i in range(6))


def test_the_runtime_stops_everything_when_its_parent_is_killed(tmp_path: Path):
    """A supervisor that kills `make demo` (not its process group) must not leave engines running."""
    base = free_port_base()
    env = {**os.environ, "RECOBRO_LOCAL_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    command = f"{sys.executable} -m infra.local up --port-base {base} --no-scheduler; true"
    parent = subprocess.Popen(["/bin/sh", "-c", command], cwd=paths.REPO_ROOT, env=env, start_new_session=True)
    demo_json = tmp_path / "demo.json"
    try:
        deadline = time.monotonic() + 60
        while not demo_json.exists():
            assert parent.poll() is None
            assert time.monotonic() < deadline, "demo.json not written within 60 s"
            time.sleep(0.2)
        health = http("GET", f"http://127.0.0.1:{base + 2}/health")[1]
        pids = [engine["pid"] for engine in health["engines"].values()]
        parent.kill()  # SIGKILL to the shell only: the runtime is orphaned
        parent.wait(timeout=10)
        deadline = time.monotonic() + 30
        while not all(port_is_free(base + i) for i in range(6)):
            assert time.monotonic() < deadline, "the orphaned runtime kept its ports"
            time.sleep(0.3)
    finally:
        if parent.poll() is None:
            parent.kill()
    deadline = time.monotonic() + 15  # a JVM closes its port a moment before its process ends
    while any(_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, "an engine outlived its runtime"
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    """Running (not merely a zombie waiting for init to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def test_java_missing_is_one_clear_line(tmp_path: Path):
    base = free_port_base()
    env = {
        **os.environ,
        "RECOBRO_LOCAL_DIR": str(tmp_path),
        "PATH": str(Path(sys.executable).parent),  # the venv's python, and no java
    }
    env.pop("JAVA_HOME", None)
    process = subprocess.run(
        [sys.executable, "-m", "infra.local", "up", "--port-base", str(base)],
        cwd=paths.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 1
    assert process.stderr.strip().splitlines() == ["error: Java not found: install a JRE (make demo/test installs one)"]
    assert "Traceback" not in process.stdout + process.stderr
    assert all(port_is_free(base + i) for i in range(6))


def test_a_handler_that_fails_to_import_is_one_clear_line(tmp_path: Path, monkeypatch):
    from types import SimpleNamespace

    from infra.local.handlers import load_function
    from infra.local.template import Function

    monkeypatch.setenv("RECOBRO_LOCAL_DIR", str(tmp_path))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "app.py").write_text("import recobro.no_such_module\n")
    function = Function("BrokenFunction", "broken", "app.handler", 3, 128, {})
    resolver = SimpleNamespace(
        spec=SimpleNamespace(code_root=tmp_path),
        function_name=lambda logical_id: logical_id,
        function_arn=lambda logical_id: f"arn:aws:lambda:eu-west-1:1:function:{logical_id}",
    )
    with pytest.raises(LocalRuntimeError) as caught:
        load_function(function, resolver, {})  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith("BrokenFunction failed to import: ModuleNotFoundError: No module named")
    assert "\n" not in message
    assert "handlers.log" in message
