"""Strategies as code: a merchant's YAML of steps, conditions and variants, versioned and simulated.

parser (YAML -> Strategy, or errors with line and column), engine (which step is due when, pure),
simulate (what would be sent to a set of claims, with guardrails), store (versions in DynamoDB,
assignment rules, enrolment of new claims), cli (`recobro strategy validate|simulate FILE`).
"""
