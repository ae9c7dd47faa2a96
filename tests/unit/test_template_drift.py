"""template.yaml vs the code: tables <-> PynamoDB models, API events <-> routes, SQS consumers.

Pure: no engines, no network. Each check also runs on a broken copy of the template (or of the
code side) to prove it reports the difference.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from typing import Any

import pytest
from packaging.requirements import Requirement
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from recobro import config
from recobro.storage.models import ALL_MODELS

from tests import template_helpers as th

Template = dict[str, Any]


@pytest.fixture(scope="module")
def template() -> Template:
    return th.load_template()


@pytest.fixture(scope="module")
def handler_env() -> Iterator[None]:
    """Importing a handler needs what a function gets from Lambda; set it only for these imports."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        patch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
        patch.setenv("RECOBRO_LINK_SECRET", "drift-test")
        yield


def _handler_module(template: Template, function_id: str) -> Any:
    path, _ = th.handler_location(template, function_id)
    return th.load_module_by_path(path, f"drift_{function_id}")


@pytest.fixture(scope="module")
def merchant_api_routes(template: Template, handler_env: None) -> set[tuple[str, str]]:
    return th.chalice_routes(_handler_module(template, "MerchantApiFunction").app)


@pytest.fixture(scope="module")
def payment_page_routes(template: Template, handler_env: None) -> set[tuple[str, str]]:
    return th.powertools_routes(_handler_module(template, "PaymentPageFunction").app)


def _props(template: Template, logical_id: str) -> dict[str, Any]:
    props: dict[str, Any] = template["Resources"][logical_id]["Properties"]
    return props


# ============================================================================ loader


def test_loader_expands_short_tags() -> None:
    loaded = th.CfnLoader
    import yaml

    text = "a: !Ref X\nb: !GetAtt Q.Arn\nc: !Sub 'x-${Y}'\nd: !Join ['', [a, !Ref Z]]\ne: !If [C, 1, 2]\n"
    assert yaml.load(text, Loader=loaded) == {
        "a": {"Ref": "X"},
        "b": {"Fn::GetAtt": ["Q", "Arn"]},
        "c": {"Fn::Sub": "x-${Y}"},
        "d": {"Fn::Join": ["", ["a", {"Ref": "Z"}]]},
        "e": {"Fn::If": ["C", 1, 2]},
    }


# ============================================================================ a. tables <-> models


def test_config_table_defaults_name_the_template_tables(template: Template) -> None:
    defaults = th.config_table_defaults()
    assert defaults, "found no NAME = env('NAME', 'default') table constants in recobro/config.py"
    assert th.check_config_defaults(template, defaults) == []


def test_every_model_matches_its_table_and_every_table_has_a_model(template: Template) -> None:
    assert th.check_tables(template, ALL_MODELS, config) == []


def test_every_table_is_checked(template: Template) -> None:
    by_table, _ = th.model_table_ids(template, ALL_MODELS, config)
    idempotency = th.table_env_vars(template)["IDEMPOTENCY_TABLE"]
    assert idempotency == "IdempotencyTable"
    assert set(by_table) | {idempotency} == set(th.resources(template, "AWS::DynamoDB::Table"))


def test_idempotency_defaults_are_read_from_powertools() -> None:
    defaults = th.powertools_idempotency_defaults()
    assert isinstance(defaults["key_attr"], str) and isinstance(defaults["expiry_attr"], str)


def test_dependencies_layer_ships_the_project_dependencies() -> None:
    pyproject = tomllib.loads((th.REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = {str(Requirement(r)) for r in pyproject["project"]["dependencies"]}
    lines = (th.REPO_ROOT / "layers" / "dependencies" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    shipped = {str(Requirement(line.split("#")[0])) for line in lines if line.split("#")[0].strip()}
    assert shipped == wanted


# --- negative: each kind of table drift is reported


def _gsi(t: Template, table: str, name: str) -> dict[str, Any]:
    index: dict[str, Any] = next(g for g in _props(t, table)["GlobalSecondaryIndexes"] if g["IndexName"] == name)
    return index


@pytest.mark.parametrize(
    ("description", "expected", "change"),
    [
        (
            "drop the by_next_action GSI",
            "model GSI by_next_action is missing",
            lambda t: _props(t, "ClaimsTable").pop("GlobalSecondaryIndexes"),
        ),
        (
            "GSI projection ALL -> KEYS_ONLY",
            "GSI by_next_action is",
            lambda t: _gsi(t, "ClaimsTable", "by_next_action").update(Projection={"ProjectionType": "KEYS_ONLY"}),
        ),
        (
            "GSI range key renamed",
            "GSI by_merchant is",
            lambda t: _gsi(t, "ApiKeysTable", "by_merchant")["KeySchema"][1].update(AttributeName="created_at"),
        ),
        (
            "GSI renamed",
            "GSI by_m has no index",
            lambda t: _props(t, "ApiKeysTable")["GlobalSecondaryIndexes"][0].update(IndexName="by_m"),
        ),
        (
            "extra GSI in the template",
            "GSI by_external_id has no index",
            lambda t: _props(t, "DebtorsTable").update(
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": "by_external_id",
                        "KeySchema": [{"AttributeName": "merchant_id", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ]
            ),
        ),
        (
            "hash key type S -> N",
            "attribute merchant_id is N",
            lambda t: _props(t, "MerchantsTable")["AttributeDefinitions"][0].update(AttributeType="N"),
        ),
        ("range key dropped", "DebtorsTable: key schema", lambda t: _props(t, "DebtorsTable")["KeySchema"].pop()),
        (
            "hash key renamed",
            "MessagesTable: key schema",
            lambda t: _props(t, "MessagesTable")["KeySchema"][0].update(AttributeName="claim_id"),
        ),
        (
            "TTL removed",
            "but the table has no TTL",
            lambda t: _props(t, "MessagesTable").pop("TimeToLiveSpecification"),
        ),
        (
            "TTL attribute renamed",
            "TTL attribute is ttl",
            lambda t: _props(t, "MessagesTable")["TimeToLiveSpecification"].update(AttributeName="ttl"),
        ),
        (
            "TTL on a table whose models have none",
            "no model has a TTL attribute",
            lambda t: _props(t, "DebtorsTable").update(
                TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": True}
            ),
        ),
        (
            "billing mode changed",
            "BillingMode PROVISIONED",
            lambda t: _props(t, "ClaimsTable").update(BillingMode="PROVISIONED"),
        ),
        (
            "unused attribute definition",
            "declares display_name",
            lambda t: _props(t, "MerchantsTable")["AttributeDefinitions"].append(
                {"AttributeName": "display_name", "AttributeType": "S"}
            ),
        ),
        (
            "a table no model uses",
            "AuditTable: table in the template with no PynamoDB model",
            lambda t: t["Resources"].update(
                AuditTable={"Type": "AWS::DynamoDB::Table", "Properties": _props(t, "MerchantsTable")}
            ),
        ),
        (
            "table env var removed",
            "DebtorsTable: table in the template with no PynamoDB model",
            lambda t: t["Globals"]["Function"]["Environment"]["Variables"].pop("DEBTORS_TABLE"),
        ),
        (
            "idempotency hash key renamed",
            "persistence layer uses",
            lambda t: _props(t, "IdempotencyTable").update(
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            ),
        ),
        (
            "idempotency TTL renamed",
            "Powertools expires records on",
            lambda t: _props(t, "IdempotencyTable")["TimeToLiveSpecification"].update(AttributeName="expires_at"),
        ),
        (
            "idempotency env var removed",
            "no Globals env var IDEMPOTENCY_TABLE",
            lambda t: t["Globals"]["Function"]["Environment"]["Variables"].pop("IDEMPOTENCY_TABLE"),
        ),
    ],
)
def test_table_check_reports_template_drift(template: Template, description: str, expected: str, change: Any) -> None:
    differences = th.check_tables(th.mutated(template, change), ALL_MODELS, config)
    assert any(expected in d for d in differences), (description, differences)


def _rogue_models() -> dict[str, type[Model]]:
    """Models that disagree with the template, declared against the real table names."""

    class WrongKeyType(Model):
        class Meta:
            table_name = config.MERCHANTS_TABLE
            billing_mode = "PAY_PER_REQUEST"

        merchant_id = NumberAttribute(hash_key=True)

    class ExtraIndex(GlobalSecondaryIndex["ExtraGsi"]):
        class Meta:
            index_name = "by_external_id"
            projection = AllProjection()

        external_id = UnicodeAttribute(hash_key=True)

    class ExtraGsi(Model):
        class Meta:
            table_name = config.DEBTORS_TABLE
            billing_mode = "PAY_PER_REQUEST"

        merchant_id = UnicodeAttribute(hash_key=True)
        debtor_id = UnicodeAttribute(range_key=True)
        external_id = UnicodeAttribute()
        by_external_id = ExtraIndex()

    class StringTtl(Model):
        class Meta:
            table_name = config.MESSAGES_TABLE
            billing_mode = "PAY_PER_REQUEST"

        claim_ref = UnicodeAttribute(hash_key=True)
        message_id = UnicodeAttribute(range_key=True)
        expires_at = UnicodeAttribute(null=True)

    class OtherTtl(Model):
        class Meta:
            table_name = config.MESSAGES_TABLE
            billing_mode = "PAY_PER_REQUEST"

        claim_ref = UnicodeAttribute(hash_key=True)
        message_id = UnicodeAttribute(range_key=True)
        expiration = NumberAttribute(null=True)

    class UnknownTable(Model):
        class Meta:
            table_name = "recobro-NoSuchTable"

        pk = UnicodeAttribute(hash_key=True)

    return {
        "hash key type": WrongKeyType,
        "extra GSI": ExtraGsi,
        "TTL not a number": StringTtl,
        "TTL on another attribute": OtherTtl,
        "model with no table": UnknownTable,
    }


@pytest.mark.parametrize("description", sorted(_rogue_models()))
def test_table_check_reports_model_drift(template: Template, description: str) -> None:
    assert th.check_tables(template, (*ALL_MODELS, _rogue_models()[description]), config) != [], description


def test_table_check_reports_a_missing_model(template: Template) -> None:
    without_messages = tuple(m for m in ALL_MODELS if m.__name__ != "Message")
    assert any("MessagesTable" in d for d in th.check_tables(template, without_messages, config))


def test_config_default_check_reports_drift(template: Template) -> None:
    defaults = th.config_table_defaults()
    wrong = {**defaults, "CLAIMS_TABLE": "recobro-Claims"}
    assert th.check_config_defaults(template, wrong) != []
    assert th.check_config_defaults(template, {**defaults, "AUDIT_TABLE": "recobro-AuditTable"}) != []
    missing = {k: v for k, v in defaults.items() if k != "MESSAGES_TABLE"}
    assert th.check_config_defaults(template, missing) != []


def test_config_defaults_are_read_from_source_not_env() -> None:
    source = 'X = 1\nCLAIMS_TABLE = env("CLAIMS_TABLE", "recobro-ClaimsTable")\nOTHER = env("A", "b")\n'
    assert th.config_table_defaults(source) == {"CLAIMS_TABLE": "recobro-ClaimsTable"}


# ============================================================================ b. routes <-> API events


def test_merchant_api_routes_match_api_events(template: Template, merchant_api_routes: set[tuple[str, str]]) -> None:
    assert merchant_api_routes, "the Chalice app registered no routes"
    assert th.check_routes(template, "MerchantApiFunction", merchant_api_routes) == []


def test_payment_page_routes_match_api_events(template: Template, payment_page_routes: set[tuple[str, str]]) -> None:
    assert payment_page_routes, "the resolver registered no routes"
    assert th.check_routes(template, "PaymentPageFunction", payment_page_routes) == []


def test_inbound_messages_routes_match_api_events(template: Template, handler_env: None) -> None:
    routes = th.powertools_routes(_handler_module(template, "InboundMessagesFunction").app)
    assert routes == {("/inbound/sms", "POST"), ("/inbound/whatsapp", "POST"), ("/inbound/whatsapp", "GET")}
    assert th.check_routes(template, "InboundMessagesFunction", routes) == []


def test_route_extraction_converts_powertools_params() -> None:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    resolver = APIGatewayRestResolver()
    resolver.get("/p/<token>/plan/<plan_id>")(lambda token, plan_id: None)
    resolver.route("/health", method=["GET", "HEAD"])(lambda: None)
    assert th.powertools_routes(resolver) == {
        ("/p/{token}/plan/{plan_id}", "GET"),
        ("/health", "GET"),
        ("/health", "HEAD"),
    }


def _add_event(function_id: str, path: str, method: str) -> Any:
    def change(t: Template) -> None:
        _props(t, function_id)["Events"]["Extra"] = {"Type": "Api", "Properties": {"Path": path, "Method": method}}

    return change


@pytest.mark.parametrize(
    ("function_id", "routes_fixture", "change"),
    [
        ("MerchantApiFunction", "merchant_api_routes", _add_event("MerchantApiFunction", "/v1/stray", "get")),
        (
            "MerchantApiFunction",
            "merchant_api_routes",
            lambda t: _props(t, "MerchantApiFunction")["Events"].pop("GetClaim"),
        ),
        (
            "MerchantApiFunction",
            "merchant_api_routes",
            lambda t: _props(t, "MerchantApiFunction")["Events"]["GetClaim"]["Properties"].update(
                Path="/v1/claims/{id}"
            ),
        ),
        ("PaymentPageFunction", "payment_page_routes", _add_event("PaymentPageFunction", "/p/{token}", "post")),
        ("PaymentPageFunction", "payment_page_routes", lambda t: _props(t, "PaymentPageFunction").pop("Events")),
    ],
)
def test_route_check_reports_template_drift(
    template: Template, request: pytest.FixtureRequest, function_id: str, routes_fixture: str, change: Any
) -> None:
    routes = request.getfixturevalue(routes_fixture)
    assert th.check_routes(th.mutated(template, change), function_id, routes) != []


def test_route_check_reports_code_drift(
    template: Template,
    merchant_api_routes: set[tuple[str, str]],
    payment_page_routes: set[tuple[str, str]],
) -> None:
    assert th.check_routes(
        template, "MerchantApiFunction", merchant_api_routes | {("/v1/claims/{claim_id}/stray", "POST")}
    )
    assert th.check_routes(template, "PaymentPageFunction", payment_page_routes | {("/p/{token}/pay", "POST")})
    assert th.check_routes(template, "PaymentPageFunction", set())


def test_route_check_reports_a_real_chalice_route(template: Template) -> None:
    from chalice.app import Chalice

    app = Chalice(app_name="drift-probe")
    for number, (path, method) in enumerate(sorted(th.api_events(template, "MerchantApiFunction"))):
        view = lambda **params: None  # noqa: E731
        view.__name__ = f"view_{number}"
        app.route(path, methods=[method])(view)
    app.route("/v1/stray/{thing_id}", methods=["DELETE"])(lambda thing_id: None)
    assert th.check_routes(template, "MerchantApiFunction", th.chalice_routes(app)) == [
        "MerchantApiFunction: route DELETE /v1/stray/{thing_id} in the code has no Api event"
    ]


# ============================================================================ c. SQS consumers


def test_sqs_consumers_report_failures_and_have_a_dead_letter_queue(template: Template) -> None:
    assert th.sqs_consumers(template), "no SQS event sources found: the check would pass vacuously"
    assert th.check_sqs_consumers(template) == []


def _sqs_event(t: Template) -> dict[str, Any]:
    event: dict[str, Any] = _props(t, "MessageSenderFunction")["Events"]["MessageJobs"]["Properties"]
    return event


def _set_timeout_parameter(t: Template) -> None:
    t["Parameters"]["SenderTimeout"] = {"Type": "Number", "Default": 31}
    _props(t, "MessageSenderFunction")["Timeout"] = {"Ref": "SenderTimeout"}


def _use_global_timeout(t: Template) -> None:
    _props(t, "MessageSenderFunction").pop("Timeout")
    t["Globals"]["Function"]["Timeout"] = 31


@pytest.mark.parametrize(
    ("description", "expected", "change"),
    [
        (
            "ReportBatchItemFailures removed",
            "lacks ReportBatchItemFailures",
            lambda t: _sqs_event(t).pop("FunctionResponseTypes"),
        ),
        (
            "FunctionResponseTypes emptied",
            "lacks ReportBatchItemFailures",
            lambda t: _sqs_event(t).update(FunctionResponseTypes=[]),
        ),
        ("RedrivePolicy removed", "has no RedrivePolicy", lambda t: _props(t, "MessageJobsQueue").pop("RedrivePolicy")),
        (
            "maxReceiveCount 3",
            "maxReceiveCount 3 < 5",
            lambda t: _props(t, "MessageJobsQueue")["RedrivePolicy"].update(maxReceiveCount=3),
        ),
        (
            "DLQ not in the template",
            "deadLetterTargetArn is not another queue",
            lambda t: _props(t, "MessageJobsQueue")["RedrivePolicy"].update(
                deadLetterTargetArn="arn:aws:sqs:eu-west-1:123456789012:elsewhere"
            ),
        ),
        (
            "DLQ resource removed",
            "deadLetterTargetArn is not another queue",
            lambda t: t["Resources"].pop("MessageJobsDLQ"),
        ),
        (
            "DLQ retention shorter",
            "keeps messages 60s",
            lambda t: _props(t, "MessageJobsDLQ").update(MessageRetentionPeriod=60),
        ),
        (
            "visibility 179 < 6 x 30",
            "VisibilityTimeout 179s < 6 x function Timeout 30s",
            lambda t: _props(t, "MessageJobsQueue").update(VisibilityTimeout=179),
        ),
        (
            "visibility left at SQS default",
            "VisibilityTimeout 30s < 6 x function Timeout 30s",
            lambda t: _props(t, "MessageJobsQueue").pop("VisibilityTimeout"),
        ),
        ("function timeout 31", "Timeout 31s", lambda t: _props(t, "MessageSenderFunction").update(Timeout=31)),
        ("timeout from a parameter", "Timeout 31s", _set_timeout_parameter),
        ("timeout from Globals", "Timeout 31s", _use_global_timeout),
        (
            "queue not in the template",
            "is not an SQS queue in the template",
            lambda t: _sqs_event(t).update(Queue={"Fn::GetAtt": ["NoSuchQueue", "Arn"]}),
        ),
    ],
)
def test_sqs_check_reports_drift(template: Template, description: str, expected: str, change: Any) -> None:
    differences = th.check_sqs_consumers(th.mutated(template, change))
    assert any(expected in d for d in differences), (description, differences)


def test_sqs_check_resolves_globals_timeout(template: Template) -> None:
    def short_global(t: Template) -> None:
        _props(t, "MessageSenderFunction").pop("Timeout")
        t["Globals"]["Function"]["Timeout"] = 30

    assert th.check_sqs_consumers(th.mutated(template, short_global)) == []


# ============================================================================ handlers


def test_every_function_handler_exists(template: Template) -> None:
    assert th.functions(template)
    for function_id in th.functions(template):
        path, attribute = th.handler_location(template, function_id)
        assert path.is_file(), f"{function_id}: {path} missing"
        assert f"\n{attribute} = " in path.read_text(encoding="utf-8") or f"def {attribute}(" in path.read_text(
            encoding="utf-8"
        ), f"{function_id}: {path} defines no {attribute}"
