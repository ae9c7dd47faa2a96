"""The local runtime: template.yaml's handlers wired to DynamoDB Local, moto and localstripe.

Entry points: `python -m infra.local up` for people, `infra.local.runtime.LocalStack` for tests.
"""

from infra.local.errors import LocalRuntimeError

__all__ = ["LocalRuntimeError"]
