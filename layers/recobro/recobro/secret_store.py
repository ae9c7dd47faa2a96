"""Where every secret comes from: an environment variable locally, an SSM SecureString in AWS.

A function that needs a secret names both variables: the secret itself (tests, the local
runtime) and the SSM parameter that holds it (set by template.yaml). Nothing is ever read from
code or logged; callers cache the value for the life of the container.
"""

from __future__ import annotations

import os


def read_secret(local_variable: str, parameter_variable: str) -> str:
    local = os.environ.get(local_variable)
    if local:
        return local
    parameter = os.environ.get(parameter_variable)
    if not parameter:
        raise RuntimeError(f"Set {local_variable} or {parameter_variable}")
    from aws_lambda_powertools.utilities import parameters

    return str(parameters.get_parameter(parameter, decrypt=True, max_age=300))
