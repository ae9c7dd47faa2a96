"""template.yaml grants what the engagement and reward paths do to DynamoDB (ADR 0014).

The local runtime does not enforce IAM, so a missing grant would only show in AWS, as a payment
that credits no reminder or a click that flags no claim (both are best effort and only logged).
This reads each function's policy statements and checks the table actions those paths need;
each check also runs on a broken copy of the template to prove it reports the gap.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests import template_helpers as th

Template = dict[str, Any]

# SAM policy templates some functions use, by the DynamoDB actions they grant on their table.
_SAM_TABLE_POLICIES = {
    "DynamoDBCrudPolicy": {
        "dynamodb:GetItem",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
        "dynamodb:Scan",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:BatchGetItem",
        "dynamodb:DescribeTable",
        "dynamodb:ConditionCheckItem",
    },
    "DynamoDBReadPolicy": {
        "dynamodb:GetItem",
        "dynamodb:Scan",
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "dynamodb:DescribeTable",
    },
}

# A payment credits the claim's reminders: one Query of its messages, then per message one
# transaction of two updates (the Message's rewarded_at, the VariantStats arm's ADD).
_CREDIT_PAYMENT = {
    "MessagesTable": {"dynamodb:Query", "dynamodb:UpdateItem"},
    "VariantStatsTable": {"dynamodb:UpdateItem"},
}
NEEDED: dict[str, dict[str, set[str]]] = {
    "ReconcilerFunction": _CREDIT_PAYMENT,  # payment_intent.succeeded, plan charges included
    "StripeSweepFunction": _CREDIT_PAYMENT,  # a repaired payment goes through the reconciler's path
    "MerchantApiFunction": _CREDIT_PAYMENT,  # a payment made elsewhere
    "TrackingFunction": {
        "MessagesTable": {"dynamodb:UpdateItem"},  # the open / click stamp
        "ClaimsTable": {"dynamodb:UpdateItem"},  # last_message_opened / last_message_clicked
        "DebtorsTable": {"dynamodb:UpdateItem"},  # engagement hours
        "VariantStatsTable": {"dynamodb:UpdateItem"},  # a click's reward
    },
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _table_of(resource: Any) -> str | None:
    """The logical id of a table ARN (`!GetAtt X.Arn`); None for anything else (indexes, wildcards)."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        logical_id, attribute = resource["Fn::GetAtt"]
        return str(logical_id) if attribute == "Arn" else None
    return None


def table_grants(template: Template, function_id: str) -> dict[str, set[str]]:
    """Table logical id -> the actions the function's Allow statements grant on the table itself."""
    grants: dict[str, set[str]] = {}
    policies = th.resources(template)[function_id].get("Properties", {}).get("Policies") or []
    for policy in _as_list(policies):
        if not isinstance(policy, dict):
            continue
        for name, params in policy.items():
            if name in _SAM_TABLE_POLICIES and isinstance(params, dict):
                table = th.ref_target(params.get("TableName"))
                if table:
                    grants.setdefault(table, set()).update(_SAM_TABLE_POLICIES[name])
        for statement in _as_list(policy.get("Statement") or []):
            if statement.get("Effect") != "Allow":
                continue
            for resource in _as_list(statement.get("Resource")):
                table = _table_of(resource)
                if table:
                    grants.setdefault(table, set()).update(_as_list(statement.get("Action")))
    return grants


def check_grants(template: Template, needed: dict[str, dict[str, set[str]]]) -> list[str]:
    differences = []
    for function_id, tables in sorted(needed.items()):
        granted = table_grants(template, function_id)
        for table, actions in sorted(tables.items()):
            missing = sorted(actions - granted.get(table, set()))
            if missing:
                differences.append(f"{function_id} lacks {', '.join(missing)} on {table}")
    return differences


@pytest.fixture(scope="module")
def template() -> Template:
    return th.load_template()


def test_the_engagement_and_reward_paths_are_granted_what_they_write(template: Template) -> None:
    assert check_grants(template, NEEDED) == []


def test_the_grants_read_sam_policy_templates(template: Template) -> None:
    grants = table_grants(template, "MerchantApiFunction")
    assert "dynamodb:Query" in grants["WebhookEndpointsTable"]  # from DynamoDBCrudPolicy
    assert "dynamodb:Query" in grants["MessagesTable"]


def _drop(function_id: str, table: str, action: str) -> Any:
    """Take `action` on `table` out of the function's statements, leaving every other grant as it was."""

    def change(template: Template) -> None:
        for policy in template["Resources"][function_id]["Properties"]["Policies"]:
            statements = policy.get("Statement", []) if isinstance(policy, dict) else []
            for statement in list(statements):
                resources = _as_list(statement.get("Resource"))
                if not any(_table_of(r) == table for r in resources):
                    continue
                others = [r for r in resources if _table_of(r) != table]
                if others:
                    statements.append({**statement, "Resource": others})
                remaining = [a for a in _as_list(statement["Action"]) if a != action]
                statement.update(Resource=[r for r in resources if _table_of(r) == table], Action=remaining)

    return change


@pytest.mark.parametrize(
    ("function_id", "table", "action"),
    [
        ("ReconcilerFunction", "VariantStatsTable", "dynamodb:UpdateItem"),
        ("StripeSweepFunction", "MessagesTable", "dynamodb:Query"),
        ("MerchantApiFunction", "MessagesTable", "dynamodb:UpdateItem"),
        ("TrackingFunction", "ClaimsTable", "dynamodb:UpdateItem"),
    ],
)
def test_a_missing_grant_is_reported(template: Template, function_id: str, table: str, action: str) -> None:
    broken = th.mutated(template, _drop(function_id, table, action))
    assert check_grants(broken, NEEDED) == [f"{function_id} lacks {action} on {table}"]
