"""Read template.yaml and compare it with the code (tables, routes, queues).

Every `check_*` function takes the parsed template (a plain dict, so tests can mutate a copy)
plus whatever it compares against, and returns a list of differences, one readable line each;
an empty list means "no drift". The drift tests assert the list is empty for the real
template and non-empty for deliberately broken copies, so each check is known to be able to fail.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
CONFIG_PATH = REPO_ROOT / "layers" / "recobro" / "recobro" / "config.py"
DEFAULT_TABLE_PREFIX = "recobro-"

Template = dict[str, Any]
Differences = list[str]

# ---------------------------------------------------------------------------- YAML loading


class CfnLoader(yaml.SafeLoader):
    """A SafeLoader that turns CloudFormation short tags (!Ref, !GetAtt, !Sub...) into long form."""


def _construct_cfn_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if tag_suffix == "Ref" else ("Condition" if tag_suffix == "Condition" else f"Fn::{tag_suffix}")
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            resource, _, attribute = str(value).partition(".")
            value = [resource, attribute]
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


CfnLoader.add_multi_constructor("!", _construct_cfn_tag)


def load_template(path: Path = TEMPLATE_PATH) -> Template:
    with path.open(encoding="utf-8") as handle:
        loaded = yaml.load(handle, Loader=CfnLoader)
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} is not a YAML mapping")
    return loaded


# ---------------------------------------------------------------------------- template access


def resources(template: Template, type_: str | None = None) -> dict[str, dict[str, Any]]:
    found = template.get("Resources") or {}
    return {lid: res for lid, res in found.items() if type_ is None or res.get("Type") == type_}


def ref_target(value: Any) -> str | None:
    """The logical id behind `!Ref X` or `!GetAtt X.Attr`, else None."""
    if isinstance(value, dict) and len(value) == 1:
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else str(target).split(".", 1)[0])
    return None


def resolve_scalar(template: Template, value: Any) -> Any:
    """A literal, or the Default of the parameter a `!Ref` names; None when it cannot be resolved."""
    target = ref_target(value)
    if target is None:
        return value if not isinstance(value, dict | list) else None
    parameter = (template.get("Parameters") or {}).get(target)
    return None if parameter is None else parameter.get("Default")


def global_env(template: Template) -> dict[str, Any]:
    function_globals = (template.get("Globals") or {}).get("Function") or {}
    return dict((function_globals.get("Environment") or {}).get("Variables") or {})


def function_setting(template: Template, logical_id: str, key: str) -> Any:
    """A function property, falling back to Globals.Function like SAM does."""
    properties = resources(template)[logical_id].get("Properties") or {}
    if key in properties:
        return properties[key]
    return ((template.get("Globals") or {}).get("Function") or {}).get(key)


def table_env_vars(template: Template) -> dict[str, str]:
    """Globals env var name -> logical id of the table it `!Ref`s (MERCHANTS_TABLE -> MerchantsTable)."""
    tables = resources(template, "AWS::DynamoDB::Table")
    mapping = {}
    for name, value in global_env(template).items():
        target = ref_target(value)
        if target in tables:
            mapping[name] = str(target)
    return mapping


# ---------------------------------------------------------------------------- tables <-> models


def config_table_defaults(config_source: str | None = None) -> dict[str, str]:
    """`NAME = env("NAME", "default")` assignments in recobro/config.py: constant -> default.

    Read from the source, not the module, so the result does not depend on this process's env.
    """
    tree = ast.parse(config_source if config_source is not None else CONFIG_PATH.read_text(encoding="utf-8"))
    defaults = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        call = node.value
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "env"
            and len(call.args) == 2
            and all(isinstance(arg, ast.Constant) and isinstance(arg.value, str) for arg in call.args)
        ):
            env_name = call.args[0].value  # type: ignore[attr-defined]
            if env_name == node.targets[0].id and env_name.endswith("_TABLE"):
                defaults[env_name] = str(call.args[1].value)  # type: ignore[attr-defined]
    return defaults


def check_config_defaults(template: Template, defaults: Mapping[str, str]) -> Differences:
    """Each config table constant is a Globals env var naming a table, default "recobro-<LogicalId>"."""
    differences = []
    env_tables = table_env_vars(template)
    for name, default in sorted(defaults.items()):
        logical_id = env_tables.get(name)
        if logical_id is None:
            differences.append(f"config.{name}: no Globals env var {name}: !Ref <a DynamoDB table> in the template")
        elif default != DEFAULT_TABLE_PREFIX + logical_id:
            differences.append(f"config.{name}: default {default!r} should be {DEFAULT_TABLE_PREFIX + logical_id!r}")
    for name, logical_id in sorted(env_tables.items()):
        if name not in defaults:
            differences.append(f"Globals env {name} (-> {logical_id}) has no constant in recobro.config")
    return differences


def model_table_ids(
    template: Template, models: Iterable[Any], config_module: Any
) -> tuple[dict[str, list[Any]], Differences]:
    """Logical table id -> models stored in it, via Meta.table_name == config.X_TABLE and X_TABLE: !Ref Id."""
    env_tables = table_env_vars(template)
    by_table: dict[str, list[Any]] = {}
    differences = []
    for model in models:
        table_name = model.Meta.table_name
        names = [n for n in env_tables if getattr(config_module, n, None) == table_name]
        if len(names) != 1:
            differences.append(
                f"{model.__name__}: Meta.table_name {table_name!r} matches {len(names)} table env vars "
                f"({', '.join(names) or 'none'}) of {sorted(env_tables)}"
            )
            continue
        by_table.setdefault(env_tables[names[0]], []).append(model)
    return by_table, differences


def _keys(key_schema: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    return {str(k["KeyType"]).upper(): str(k["AttributeName"]) for k in key_schema}


def _projection(projection: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    return (
        str(projection.get("ProjectionType", "")).upper(),
        tuple(sorted(projection.get("NonKeyAttributes") or projection.get("non_key_attributes") or ())),
    )


def _model_index(schema: Mapping[str, Any]) -> tuple[dict[str, str], tuple[str, tuple[str, ...]]]:
    return _keys(schema["key_schema"]), _projection(schema["projection"])


def _template_index(index: Mapping[str, Any]) -> tuple[dict[str, str], tuple[str, tuple[str, ...]]]:
    return _keys(index.get("KeySchema") or []), _projection(index.get("Projection") or {})


TTL_NAMES = ("expires_at", "expiration")


def model_ttl_attribute(model: Any) -> tuple[str, str] | None:
    """(attribute name in DynamoDB, attribute type) of the model's TTL attribute, if it has one."""
    from pynamodb.attributes import TTLAttribute

    for python_name, attribute in model.get_attributes().items():
        if isinstance(attribute, TTLAttribute) or python_name in TTL_NAMES:
            return str(attribute.attr_name), str(attribute.attr_type)
    return None


def check_table_against_models(template: Template, logical_id: str, models: list[Any]) -> Differences:
    """Keys, attribute types, GSIs/LSIs, TTL and billing mode of one table vs the models stored in it."""
    where = f"{logical_id}"
    properties = resources(template)[logical_id].get("Properties") or {}
    differences = []
    table_keys = _keys(properties.get("KeySchema") or [])
    definitions = {d["AttributeName"]: d["AttributeType"] for d in properties.get("AttributeDefinitions") or []}
    table_gsis = {g["IndexName"]: _template_index(g) for g in properties.get("GlobalSecondaryIndexes") or []}
    table_lsis = {g["IndexName"]: _template_index(g) for g in properties.get("LocalSecondaryIndexes") or []}
    model_gsis: dict[str, Any] = {}
    model_lsis: dict[str, Any] = {}
    key_attributes: dict[str, str] = {}
    for model in models:
        schema = model._get_schema()
        name = model.__name__
        model_keys = _keys(schema["key_schema"])
        if model_keys != table_keys:
            differences.append(f"{where}: key schema {table_keys} but {name} has {model_keys}")
        for definition in schema["attribute_definitions"]:
            key_attributes[definition["AttributeName"]] = definition["AttributeType"]
            declared = definitions.get(definition["AttributeName"])
            if declared != definition["AttributeType"]:
                differences.append(
                    f"{where}: attribute {definition['AttributeName']} is {declared or 'not defined'} "
                    f"but {name} has {definition['AttributeType']}"
                )
        for index in schema["global_secondary_indexes"]:
            model_gsis[index["index_name"]] = _model_index(index)
        for index in schema["local_secondary_indexes"]:
            model_lsis[index["index_name"]] = _model_index(index)
        billing = getattr(model.Meta, "billing_mode", None)
        if billing and billing != properties.get("BillingMode", "PROVISIONED"):
            differences.append(f"{where}: BillingMode {properties.get('BillingMode')} but {name} has {billing}")
    for kind, in_template, in_models in (("GSI", table_gsis, model_gsis), ("LSI", table_lsis, model_lsis)):
        for index_name in sorted(set(in_template) | set(in_models)):
            if index_name not in in_models:
                differences.append(f"{where}: {kind} {index_name} has no index in any model")
            elif index_name not in in_template:
                differences.append(f"{where}: model {kind} {index_name} is missing from the template")
            elif in_template[index_name] != in_models[index_name]:
                differences.append(
                    f"{where}: {kind} {index_name} is {in_template[index_name]} in the template "
                    f"but {in_models[index_name]} in the models"
                )
    for attribute in sorted(set(definitions) - set(key_attributes)):
        differences.append(f"{where}: AttributeDefinitions declares {attribute}, which no model key or index uses")
    ttl_spec = properties.get("TimeToLiveSpecification") or {}
    template_ttl = ttl_spec.get("AttributeName") if ttl_spec.get("Enabled", False) else None
    model_ttls = {t for t in (model_ttl_attribute(m) for m in models) if t is not None}
    if template_ttl is None and model_ttls:
        differences.append(f"{where}: models use TTL attribute(s) {sorted(model_ttls)} but the table has no TTL")
    for ttl_name, ttl_type in sorted(model_ttls):
        if template_ttl is not None and ttl_name != template_ttl:
            differences.append(f"{where}: TTL attribute is {template_ttl} but a model uses {ttl_name}")
        if ttl_type != "N":
            differences.append(f"{where}: TTL attribute {ttl_name} must be a number (epoch seconds), is {ttl_type}")
    if template_ttl is not None and not model_ttls:
        differences.append(f"{where}: TTL on {template_ttl} but no model has a TTL attribute")
    return differences


def powertools_idempotency_defaults() -> dict[str, Any]:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    parameters = inspect.signature(DynamoDBPersistenceLayer.__init__).parameters
    return {name: parameters[name].default for name in ("key_attr", "sort_key_attr", "expiry_attr")}


def check_idempotency_table(template: Template, logical_id: str, defaults: Mapping[str, Any]) -> Differences:
    properties = resources(template)[logical_id].get("Properties") or {}
    differences = []
    expected_keys = {"HASH": defaults["key_attr"]}
    if defaults.get("sort_key_attr"):
        expected_keys["RANGE"] = defaults["sort_key_attr"]
    keys = _keys(properties.get("KeySchema") or [])
    if keys != expected_keys:
        differences.append(f"{logical_id}: keys {keys} but Powertools' persistence layer uses {expected_keys}")
    definitions = {d["AttributeName"]: d["AttributeType"] for d in properties.get("AttributeDefinitions") or []}
    if definitions != dict.fromkeys(expected_keys.values(), "S"):
        differences.append(f"{logical_id}: AttributeDefinitions {definitions} should declare only the S key(s)")
    ttl = properties.get("TimeToLiveSpecification") or {}
    if ttl.get("AttributeName") != defaults["expiry_attr"] or not ttl.get("Enabled", False):
        differences.append(f"{logical_id}: TTL {ttl} but Powertools expires records on {defaults['expiry_attr']!r}")
    return differences


def check_tables(
    template: Template,
    models: Iterable[Any],
    config_module: Any,
    idempotency_env: str = "IDEMPOTENCY_TABLE",
    idempotency_defaults: Mapping[str, Any] | None = None,
) -> Differences:
    """Every model <-> its table, every table <-> a model (or Powertools' idempotency layout)."""
    by_table, differences = model_table_ids(template, models, config_module)
    idempotency_id = table_env_vars(template).get(idempotency_env)
    if idempotency_id is None:
        differences.append(f"no Globals env var {idempotency_env}: !Ref <the idempotency table>")
    for logical_id in sorted(resources(template, "AWS::DynamoDB::Table")):
        if logical_id == idempotency_id:
            if logical_id in by_table:
                differences.append(f"{logical_id}: is the idempotency table but models use it too")
            defaults = idempotency_defaults or powertools_idempotency_defaults()
            differences += check_idempotency_table(template, logical_id, defaults)
        elif logical_id not in by_table:
            differences.append(f"{logical_id}: table in the template with no PynamoDB model")
        else:
            differences += check_table_against_models(template, logical_id, by_table[logical_id])
    return differences


# ---------------------------------------------------------------------------- routes


def load_module_by_path(path: Path, module_name: str) -> ModuleType:
    """Import a handler file the way Lambda (and the local runtime) does: by path, under a unique name."""
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def chalice_routes(app: Any) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, methods in app.routes.items() for method in methods}


_POWERTOOLS_PARAM = re.compile(r"<(\w+)>")


def powertools_routes(resolver: Any) -> set[tuple[str, str]]:
    """(API Gateway style path, METHOD) of every route an APIGatewayRestResolver registered."""
    routes: set[tuple[str, str]] = set()
    for route in [*resolver._static_routes, *resolver._dynamic_routes]:
        path = getattr(route, "openapi_path", None) or _POWERTOOLS_PARAM.sub(r"{\1}", route.path)
        methods = route.method if isinstance(route.method, list | tuple) else [route.method]
        routes.update((path, str(m).upper()) for m in methods)
    return routes


def api_events(template: Template, function_id: str) -> set[tuple[str, str]]:
    events = (resources(template)[function_id].get("Properties") or {}).get("Events") or {}
    return {
        (str(e["Properties"]["Path"]), str(e["Properties"]["Method"]).upper())
        for e in events.values()
        if e.get("Type") == "Api"
    }


def check_routes(template: Template, function_id: str, code_routes: set[tuple[str, str]]) -> Differences:
    """The function's Api events and the routes its code registers are the same set."""
    in_template = api_events(template, function_id)
    differences = [
        f"{function_id}: route {m} {p} in the code has no Api event" for p, m in sorted(code_routes - in_template)
    ]
    differences += [
        f"{function_id}: Api event {m} {p} has no route in the code" for p, m in sorted(in_template - code_routes)
    ]
    return differences


# ---------------------------------------------------------------------------- queues

MIN_MAX_RECEIVE_COUNT = 5
VISIBILITY_TO_TIMEOUT_RATIO = 6
LAMBDA_DEFAULT_TIMEOUT = 3
SQS_DEFAULT_VISIBILITY = 30
SQS_DEFAULT_RETENTION = 345600


def sqs_consumers(template: Template) -> list[tuple[str, str, dict[str, Any]]]:
    """(function id, event name, event properties) for every SQS event source in the template."""
    found = []
    for function_id, function in resources(template, "AWS::Serverless::Function").items():
        for name, event in ((function.get("Properties") or {}).get("Events") or {}).items():
            if event.get("Type") == "SQS":
                found.append((function_id, name, event.get("Properties") or {}))
    return found


def check_sqs_consumers(template: Template) -> Differences:
    differences = []
    queues = resources(template, "AWS::SQS::Queue")
    for function_id, event_name, event in sqs_consumers(template):
        where = f"{function_id}.{event_name}"
        if "ReportBatchItemFailures" not in (event.get("FunctionResponseTypes") or []):
            differences.append(f"{where}: FunctionResponseTypes lacks ReportBatchItemFailures")
        queue_id = ref_target(event.get("Queue"))
        if queue_id not in queues:
            differences.append(f"{where}: Queue {event.get('Queue')} is not an SQS queue in the template")
            continue
        queue = queues[str(queue_id)].get("Properties") or {}
        redrive = queue.get("RedrivePolicy") or {}
        dlq_id = ref_target(redrive.get("deadLetterTargetArn"))
        if not redrive:
            differences.append(f"{where}: queue {queue_id} has no RedrivePolicy (no dead-letter queue)")
        elif dlq_id not in queues or dlq_id == queue_id:
            differences.append(f"{where}: {queue_id}'s deadLetterTargetArn is not another queue in the template")
        else:
            dlq = queues[str(dlq_id)].get("Properties") or {}
            source_retention = resolve_scalar(template, queue.get("MessageRetentionPeriod", SQS_DEFAULT_RETENTION))
            dlq_retention = resolve_scalar(template, dlq.get("MessageRetentionPeriod", SQS_DEFAULT_RETENTION))
            if (
                source_retention is not None
                and dlq_retention is not None
                and int(dlq_retention) < int(source_retention)
            ):
                differences.append(
                    f"{where}: DLQ {dlq_id} keeps messages {dlq_retention}s, less than {queue_id}'s {source_retention}s"
                )
        if redrive:
            receives = resolve_scalar(template, redrive.get("maxReceiveCount"))
            if receives is None or int(receives) < MIN_MAX_RECEIVE_COUNT:
                differences.append(f"{where}: {queue_id} maxReceiveCount {receives} < {MIN_MAX_RECEIVE_COUNT}")
        timeout = resolve_scalar(template, function_setting(template, function_id, "Timeout") or LAMBDA_DEFAULT_TIMEOUT)
        visibility = resolve_scalar(template, queue.get("VisibilityTimeout", SQS_DEFAULT_VISIBILITY))
        if timeout is None or visibility is None:
            differences.append(f"{where}: cannot resolve Timeout {timeout!r} / VisibilityTimeout {visibility!r}")
        elif int(visibility) < VISIBILITY_TO_TIMEOUT_RATIO * int(timeout):
            differences.append(
                f"{where}: {queue_id} VisibilityTimeout {visibility}s < "
                f"{VISIBILITY_TO_TIMEOUT_RATIO} x function Timeout {timeout}s"
            )
    return differences


# ---------------------------------------------------------------------------- handlers


def handler_location(template: Template, function_id: str) -> tuple[Path, str]:
    """(path of the handler file, attribute name) from CodeUri + Handler, e.g. (functions/x/app.py, "handler")."""
    properties = resources(template)[function_id].get("Properties") or {}
    code_uri = str(function_setting(template, function_id, "CodeUri"))
    module, _, attribute = str(properties["Handler"]).rpartition(".")
    return REPO_ROOT / code_uri / (module.replace(".", "/") + ".py"), attribute


def functions(template: Template) -> list[str]:
    return sorted(resources(template, "AWS::Serverless::Function"))


def mutated(template: Template, change: Callable[[Template], Any]) -> Template:
    """A deep copy of the template with `change` applied, for negative tests."""
    import copy

    clone = copy.deepcopy(template)
    change(clone)
    return clone
