"""Read template.yaml, the single source of truth, and turn it into what the local runtime runs.

The SAM template is expanded offline with aws-sam-translator (so Globals, implicit APIs, event
source mappings and schedules come out exactly as CloudFormation would see them), then reduced
to plain descriptions: tables, queues, functions, routes, SQS mappings and schedules. Intrinsics
(Ref, GetAtt, Sub, ...) are resolved against local addresses by `Resolver` once ports are known.
Anything the runtime cannot map fails with one clear line rather than running half-wired.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.local.errors import LocalRuntimeError

REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"  # moto's default account
PARTITION = "aws"
STAGE = "live"
PLACEHOLDER_BUCKET = "recobro-local-placeholder"

# Local server names for the template's APIs (DESIGN.md: MerchantApi -> "api", PagesApi -> "pages").
API_SERVER_NAMES = {"MerchantApi": "api", "PagesApi": "pages", "TrackingApi": "tracking"}


# ---------------------------------------------------------------- YAML with CloudFormation tags


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads !Ref/!GetAtt/!Sub/... as their long JSON forms and keeps dates as text."""


# CloudFormation has no timestamps: keep "2010-09-09"-like scalars as strings.
CfnLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_tag(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    except (OSError, yaml.YAMLError) as exc:
        raise LocalRuntimeError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise LocalRuntimeError(f"{path} is not a CloudFormation template (no Resources)")
    return data


# ---------------------------------------------------------------- SAM expansion


class _OfflinePolicyLoader:
    """ManagedPolicyLoader stand-in (no IAM call): the translator uses its bundled policy list."""

    def load(self) -> dict[str, str]:
        return {}


def _swap_local_uris(template: dict[str, Any]) -> dict[str, str]:
    """Replace local CodeUri/ContentUri with placeholder s3:// URIs; return logical id -> local path."""
    local: dict[str, str] = {}
    globals_fn = template.get("Globals", {}).get("Function", {})
    default_code = globals_fn.get("CodeUri")
    if isinstance(default_code, str) and not default_code.startswith("s3://"):
        globals_fn["CodeUri"] = f"s3://{PLACEHOLDER_BUCKET}/{default_code}"
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties") or {}
        kind = resource.get("Type")
        key = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}.get(kind)
        if not key:
            continue
        uri = props.get(key, default_code if kind == "AWS::Serverless::Function" else None)
        if isinstance(uri, str) and not uri.startswith("s3://"):
            local[logical_id] = uri
            props[key] = f"s3://{PLACEHOLDER_BUCKET}/{uri}"
            resource["Properties"] = props
    return local


def expand(template: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Return (CloudFormation template after the SAM transform, logical id -> local code path)."""
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template

    sam = copy.deepcopy(template)
    local_uris = _swap_local_uris(sam)
    parameters = {name: spec["Default"] for name, spec in (sam.get("Parameters") or {}).items() if "Default" in spec}
    parameters.setdefault("AWS::Region", REGION)
    parameters.setdefault("AWS::AccountId", ACCOUNT_ID)
    parameters.setdefault("AWS::Partition", PARTITION)
    policy_loader = _OfflinePolicyLoader()
    try:
        # samtranslator's transform() but with a region-pinned session: no AWS config needed.
        to_py27_compatible_template(sam, parameters)
        translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
        expanded = undo_mark_unicode_str_in_template(
            translator.translate(sam, parameter_values=parameters, get_managed_policy_map=policy_loader.load)
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(str(cause) for cause in exc.causes) or str(exc)
        raise LocalRuntimeError(f"template.yaml does not expand: {causes}") from None
    return expanded, local_uris


# ---------------------------------------------------------------- what the runtime runs


@dataclass(frozen=True)
class Table:
    logical_id: str
    create_input: dict[str, Any]  # CreateTable input without TableName (the resolver names it)
    ttl_attribute: str | None


@dataclass(frozen=True)
class Queue:
    logical_id: str
    properties: dict[str, Any]  # raw CloudFormation properties (intrinsics unresolved)
    dead_letter_target: str | None  # logical id of the DLQ, if any
    max_receive_count: int | None


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_uri: str  # local folder, relative to the template, from the ORIGINAL template
    handler: str  # "module.attribute"
    timeout: int
    memory_mb: int
    environment: dict[str, Any]  # raw values (intrinsics unresolved), Globals merged


@dataclass(frozen=True)
class Route:
    api_id: str
    method: str  # upper case, or "ANY"
    path: str  # the resource pattern, e.g. /v1/claims/{claim_id}
    function_id: str


@dataclass(frozen=True)
class QueueMapping:
    logical_id: str
    queue_id: str
    function_id: str
    batch_size: int
    report_batch_item_failures: bool
    enabled: bool = True


@dataclass(frozen=True)
class Schedule:
    logical_id: str
    expression: Any  # raw (may be a Ref to a parameter)
    function_id: str
    input: str | None = None
    enabled: bool = True


@dataclass
class StackSpec:
    template_path: Path
    parameters: dict[str, Any]
    tables: dict[str, Table] = field(default_factory=dict)
    queues: dict[str, Queue] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    apis: list[str] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    queue_mappings: list[QueueMapping] = field(default_factory=list)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    other_resources: dict[str, str] = field(default_factory=dict)  # logical id -> type

    @property
    def code_root(self) -> Path:
        return self.template_path.parent


def _logical_ref(value: Any, what: str) -> str:
    """The logical id behind {"Ref": X} or {"Fn::GetAtt": [X, attr]}."""
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            return value["Ref"]
        getatt = value.get("Fn::GetAtt")
        if isinstance(getatt, list) and getatt:
            return str(getatt[0])
        if isinstance(getatt, str):
            return getatt.split(".", 1)[0]
    raise LocalRuntimeError(f"template.yaml: cannot map {what} {json.dumps(value)} to a resource locally")


_FUNCTION_ARN_IN_URI = re.compile(r"\$\{(\w+)\.Arn\}")


def _routes_from_rest_api(api_id: str, body: dict[str, Any]) -> list[Route]:
    routes = []
    for path, operations in (body.get("paths") or {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            integration = operation.get("x-amazon-apigateway-integration") or {}
            uri = integration.get("uri")
            uri_text = uri.get("Fn::Sub") if isinstance(uri, dict) else uri
            if isinstance(uri_text, list):
                uri_text = uri_text[0]
            match = _FUNCTION_ARN_IN_URI.search(str(uri_text or ""))
            if not match:
                raise LocalRuntimeError(
                    f"template.yaml: route {method.upper()} {path} on {api_id} has no Lambda integration "
                    "the local runtime can map"
                )
            verb = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
            routes.append(Route(api_id=api_id, method=verb, path=path, function_id=match.group(1)))
    return routes


_IGNORED_TYPES = {
    "AWS::Lambda::LayerVersion",
    "AWS::Lambda::Permission",
    "AWS::Lambda::Version",
    "AWS::Lambda::Alias",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::Logs::LogGroup",
    "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::Stage",
    "AWS::ApiGateway::Account",
    "AWS::SQS::QueuePolicy",
    "AWS::CloudWatch::Alarm",
}
_SUPPORTED_TYPES = {
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::Lambda::Function",
    "AWS::ApiGateway::RestApi",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Scheduler::Schedule",
    "AWS::Events::Rule",
}


def parse_template(path: Path) -> StackSpec:
    """Expand template.yaml and describe its tables, queues, functions, routes and schedules."""
    original = load_yaml(path)
    expanded, local_uris = expand(original)
    spec = StackSpec(
        template_path=path.resolve(),
        parameters={
            name: p.get("Default") for name, p in (original.get("Parameters") or {}).items() if isinstance(p, dict)
        },
    )
    resources: dict[str, Any] = expanded["Resources"]
    for logical_id, resource in original["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Api":
            spec.apis.append(logical_id)
    for logical_id, resource in resources.items():
        kind = str(resource.get("Type"))
        props = resource.get("Properties") or {}
        if kind == "AWS::DynamoDB::Table":
            spec.tables[logical_id] = _table(logical_id, props)
        elif kind == "AWS::SQS::Queue":
            redrive = props.get("RedrivePolicy")
            if isinstance(redrive, str):
                redrive = json.loads(redrive)
            dlq = _logical_ref(redrive["deadLetterTargetArn"], "RedrivePolicy") if redrive else None
            spec.queues[logical_id] = Queue(
                logical_id, props, dlq, int(redrive["maxReceiveCount"]) if redrive else None
            )
        elif kind == "AWS::Lambda::Function":
            if logical_id not in local_uris:
                raise LocalRuntimeError(f"template.yaml: function {logical_id} has no local CodeUri to load")
            spec.functions[logical_id] = Function(
                logical_id=logical_id,
                code_uri=local_uris[logical_id],
                handler=str(props.get("Handler")),
                timeout=int(props.get("Timeout", 3)),
                memory_mb=int(props.get("MemorySize", 128)),
                environment=dict((props.get("Environment") or {}).get("Variables") or {}),
            )
        elif kind == "AWS::ApiGateway::RestApi":
            if logical_id not in spec.apis:
                spec.apis.append(logical_id)  # implicit API (ServerlessRestApi)
            spec.routes.extend(_routes_from_rest_api(logical_id, props.get("Body") or {}))
        elif kind == "AWS::Lambda::EventSourceMapping":
            source = props.get("EventSourceArn")
            queue_id = _logical_ref(source, f"{logical_id} EventSourceArn")
            if resources.get(queue_id, {}).get("Type") != "AWS::SQS::Queue":
                raise LocalRuntimeError(
                    f"template.yaml: {logical_id} reads from {queue_id}; only SQS event sources run locally"
                )
            spec.queue_mappings.append(
                QueueMapping(
                    logical_id=logical_id,
                    queue_id=queue_id,
                    function_id=_logical_ref(props.get("FunctionName"), f"{logical_id} FunctionName"),
                    batch_size=int(props.get("BatchSize", 10)),
                    report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                    enabled=props.get("Enabled", True) not in (False, "false", "False"),
                )
            )
        elif kind == "AWS::Scheduler::Schedule":
            target = props.get("Target") or {}
            spec.schedules[logical_id] = Schedule(
                logical_id=logical_id,
                expression=props.get("ScheduleExpression"),
                function_id=_logical_ref(target.get("Arn"), f"{logical_id} Target.Arn"),
                input=target.get("Input"),
                enabled=props.get("State", "ENABLED") == "ENABLED",
            )
        elif kind == "AWS::Events::Rule" and "ScheduleExpression" in props:
            for target in props.get("Targets") or []:
                spec.schedules[logical_id] = Schedule(
                    logical_id=logical_id,
                    expression=props.get("ScheduleExpression"),
                    function_id=_logical_ref(target.get("Arn"), f"{logical_id} Targets.Arn"),
                    input=target.get("Input"),
                    enabled=props.get("State", "ENABLED") == "ENABLED",
                )
        elif kind in _IGNORED_TYPES or kind.startswith("AWS::IAM::"):
            spec.other_resources[logical_id] = kind
        else:
            raise LocalRuntimeError(f"template.yaml: resource {logical_id} of type {kind} has no local stand-in")
    for route in spec.routes:
        if route.function_id not in spec.functions:
            raise LocalRuntimeError(
                f"template.yaml: route {route.method} {route.path} targets unknown {route.function_id}"
            )
    for mapping in spec.queue_mappings:
        if mapping.function_id not in spec.functions:
            raise LocalRuntimeError(f"template.yaml: {mapping.logical_id} targets unknown {mapping.function_id}")
    for schedule in spec.schedules.values():
        if schedule.function_id not in spec.functions:
            raise LocalRuntimeError(f"template.yaml: schedule {schedule.logical_id} targets a non-function")
    return spec


def _table(logical_id: str, props: dict[str, Any]) -> Table:
    create: dict[str, Any] = {
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
    }
    on_demand = props.get("BillingMode", "PROVISIONED") == "PAY_PER_REQUEST"
    throughput = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    if on_demand:
        create["BillingMode"] = "PAY_PER_REQUEST"
    else:
        create["ProvisionedThroughput"] = props.get("ProvisionedThroughput") or throughput
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes = []
        for index in props.get(key) or []:
            entry = {k: index[k] for k in ("IndexName", "KeySchema", "Projection") if k in index}
            if key == "GlobalSecondaryIndexes" and not on_demand:
                entry["ProvisionedThroughput"] = index.get("ProvisionedThroughput") or throughput
            indexes.append(entry)
        if indexes:
            create[key] = indexes
    ttl = props.get("TimeToLiveSpecification") or {}
    ttl_attribute = ttl.get("AttributeName") if ttl.get("Enabled") in (True, "true") else None
    if "TableName" in props:
        create["TableName"] = props["TableName"]
    return Table(logical_id, create, ttl_attribute)


# ---------------------------------------------------------------- intrinsics against local addresses


@dataclass(frozen=True)
class LocalAddresses:
    moto_url: str
    api_urls: dict[str, str]  # Api logical id -> local base URL (no trailing slash)
    pages_url: str


_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")
_EXECUTE_API = re.compile(
    r"^https://\$\{(\w+)\}\.execute-api\.\$\{AWS::Region\}\.(?:amazonaws\.com|\$\{AWS::URLSuffix\})/[^/]+(.*)$"
)


class Resolver:
    """Resolves intrinsics to local names: tables, queue URLs/ARNs, parameter defaults, API URLs."""

    def __init__(self, spec: StackSpec, addresses: LocalAddresses) -> None:
        self.spec = spec
        self.addresses = addresses

    # names -------------------------------------------------------
    def table_name(self, logical_id: str) -> str:
        named = self.spec.tables[logical_id].create_input.get("TableName")
        return str(self.resolve(named, f"{logical_id} TableName")) if named else f"recobro-{logical_id}"

    def queue_name(self, logical_id: str) -> str:
        props = self.spec.queues[logical_id].properties
        if props.get("QueueName"):
            return str(self.resolve(props["QueueName"], f"{logical_id} QueueName"))
        fifo = props.get("FifoQueue") in (True, "true")
        return f"recobro-{logical_id}" + (".fifo" if fifo else "")

    def queue_url(self, logical_id: str) -> str:
        return f"{self.addresses.moto_url}/{ACCOUNT_ID}/{self.queue_name(logical_id)}"

    def queue_arn(self, logical_id: str) -> str:
        return f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT_ID}:{self.queue_name(logical_id)}"

    def function_name(self, logical_id: str) -> str:
        return f"recobro-{logical_id}"

    def function_arn(self, logical_id: str) -> str:
        return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name(logical_id)}"

    def api_url(self, logical_id: str) -> str:
        try:
            return self.addresses.api_urls[logical_id]
        except KeyError:
            raise LocalRuntimeError(f"template.yaml: API {logical_id} has no local server") from None

    # intrinsics --------------------------------------------------
    def ref(self, name: str, where: str) -> str:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "recobro-local",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.spec.parameters:
            value = self.spec.parameters[name]
            if value is None:
                raise LocalRuntimeError(f"template.yaml: parameter {name} (used by {where}) has no Default")
            return str(value)
        if name in self.spec.tables:
            return self.table_name(name)
        if name in self.spec.queues:
            return self.queue_url(name)
        if name in self.spec.functions:
            return self.function_name(name)
        if name in self.spec.apis:
            return self.api_url(name)
        raise LocalRuntimeError(f"template.yaml: cannot map Ref {name} (used by {where}) locally")

    def get_att(self, name: str, attribute: str, where: str) -> str:
        if name in self.spec.queues:
            if attribute == "Arn":
                return self.queue_arn(name)
            if attribute == "QueueName":
                return self.queue_name(name)
            if attribute == "QueueUrl":
                return self.queue_url(name)
        if name in self.spec.tables and attribute == "Arn":
            return f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT_ID}:table/{self.table_name(name)}"
        if name in self.spec.functions and attribute == "Arn":
            return self.function_arn(name)
        raise LocalRuntimeError(f"template.yaml: cannot map GetAtt {name}.{attribute} (used by {where}) locally")

    def sub(self, value: Any, where: str) -> str:
        if isinstance(value, list):
            text, variables = str(value[0]), {k: self.resolve(v, where) for k, v in (value[1] or {}).items()}
        else:
            text, variables = str(value), {}
        api_link = _EXECUTE_API.match(text)
        if api_link and api_link.group(1) in self.spec.apis:
            return self.api_url(api_link.group(1)) + self.sub([api_link.group(2), variables], where)

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if name in self.spec.apis:
                return self.api_url(name)
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return self.get_att(resource, attribute, where)
            return self.ref(name, where)

        return _SUB_VAR.sub(replace, text).replace("${!", "${")

    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, str | int | float | bool) or value is None:
            return value
        if isinstance(value, list):
            return [self.resolve(item, where) for item in value]
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(str(arg), where)
            if key == "Fn::GetAtt":
                resource, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self.get_att(str(resource), str(attribute), where)
            if key == "Fn::Sub":
                return self.sub(arg, where)
            if key == "Fn::Join":
                return str(arg[0]).join(str(self.resolve(part, where)) for part in self.resolve(arg[1], where))
            if key == "Fn::Select":
                return self.resolve(arg[1], where)[int(self.resolve(arg[0], where))]
            if not key.startswith(("Fn::", "Ref", "Condition")):
                return {key: self.resolve(arg, where)}
        if isinstance(value, dict) and not any(k.startswith("Fn::") or k == "Ref" for k in value):
            return {k: self.resolve(v, where) for k, v in value.items()}
        raise LocalRuntimeError(f"template.yaml: cannot map {json.dumps(value)} (used by {where}) locally")

    # derived inputs ----------------------------------------------
    def create_table_input(self, logical_id: str) -> dict[str, Any]:
        create = dict(self.spec.tables[logical_id].create_input)
        create["TableName"] = self.table_name(logical_id)
        return create

    def queue_attributes(self, logical_id: str, visibility_scale: float = 1.0) -> dict[str, str]:
        props = self.spec.queues[logical_id].properties
        attributes: dict[str, str] = {}
        for key in (
            "DelaySeconds",
            "MaximumMessageSize",
            "MessageRetentionPeriod",
            "ReceiveMessageWaitTimeSeconds",
            "FifoQueue",
            "ContentBasedDeduplication",
        ):
            if key in props:
                value = self.resolve(props[key], f"{logical_id} {key}")
                attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
        visibility = float(self.resolve(props.get("VisibilityTimeout", 30), f"{logical_id} VisibilityTimeout"))
        attributes["VisibilityTimeout"] = str(max(1, round(visibility * visibility_scale)))
        queue = self.spec.queues[logical_id]
        if queue.dead_letter_target:
            if queue.dead_letter_target not in self.spec.queues:
                raise LocalRuntimeError(f"template.yaml: {logical_id}'s dead-letter target is not a queue")
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": self.queue_arn(queue.dead_letter_target),
                    "maxReceiveCount": queue.max_receive_count,
                }
            )
        return attributes

    def schedule_expression(self, logical_id: str) -> str:
        schedule = self.spec.schedules[logical_id]
        return str(self.resolve(schedule.expression, f"schedule {logical_id}"))

    def function_environment(self, logical_id: str) -> dict[str, str]:
        env: dict[str, str] = {}
        for name, raw in self.spec.functions[logical_id].environment.items():
            where = f"{logical_id} environment {name}"
            if name == "PAGES_BASE_URL":
                env[name] = self.addresses.pages_url
                continue
            value = self.resolve(raw, where)
            if isinstance(value, dict | list):
                raise LocalRuntimeError(f"template.yaml: {where} is not a string")
            env[name] = str(value).lower() if isinstance(value, bool) else str(value)
        return env

    def dead_letter_queues(self) -> set[str]:
        return {q.dead_letter_target for q in self.spec.queues.values() if q.dead_letter_target}
