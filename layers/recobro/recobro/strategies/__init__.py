"""Strategies as code: a merchant's YAML of steps, conditions and variants, versioned and simulated.

schema (the fields and condition fields), parser (YAML -> Strategy, or errors with line and
column), builtin (default.yaml: version 0 of "default" for every merchant), engine (which step
is due when, pure), simulate (what would be sent to a set of claims, with guardrails), store
(versions in DynamoDB, assignment rules, enrolment of new claims), api (the merchant API's
operations), cli (`recobro strategy validate|simulate FILE`).
"""
