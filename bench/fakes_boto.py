"""Secrets Manager through boto3, answered in-process, installed without importing boto3.

Every botocore session created from now on short-circuits GetSecretValue with the given
values: creating the client and the SDK's own work still happen and are measured.
"""

from __future__ import annotations

import json
from typing import Any

import botocore


def answer_secrets(secrets: dict[str, dict[str, object]]) -> None:
    def get_secret_value(params: dict[str, Any], **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        from botocore.awsrequest import AWSResponse

        secret_id = json.loads(params["body"])["SecretId"]  # the serialised request
        answer = {"Name": secret_id, "SecretString": json.dumps(secrets[secret_id])}
        return AWSResponse("https://secretsmanager.eu-west-1.amazonaws.com", 200, {}, None), answer

    botocore.register_initializer(
        lambda session: session.register("before-call.secrets-manager.GetSecretValue", get_secret_value)
    )
