"""Logger, Tracer and Metrics, created once and shared by every handler and module.

Secrets never reach a log line at any level: the chat clients log through
``http_logger``, which masks the webhook URL or token it was given, and botocore's parser,
which prints response bodies (a Secrets Manager ``SecretString``) at DEBUG, is filtered.
"""

import logging

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer(patch_modules=("botocore",))
"""X-Ray patches the AWS SDK, the only library Vigil's traces follow. Powertools' default
(``patch_all``) also tries a dozen database and HTTP client libraries on every cold start,
importing those it finds (``sqlite3`` of the standard library among them; ADR 37)."""
metrics = Metrics()

REDACTED = "[redacted]"


class _Redact(logging.Filter):
    """Replaces each secret in a record's rendered message, whatever the logger's level."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self._secrets = tuple(secret for secret in secrets if secret)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for secret in self._secrets:
            message = message.replace(secret, REDACTED)
        record.msg, record.args = message, None
        return True


def http_logger(*secrets: str) -> logging.Logger:
    """A logger for one slack_sdk client that never prints ``secrets``.

    It is not registered with ``logging`` (so many clients do not pile filters on one
    logger), and hands its records to ``slack_sdk``'s logger, whose level and handlers apply.
    """
    client_logger = logging.Logger("slack_sdk.vigil")
    client_logger.parent = logging.getLogger("slack_sdk")
    client_logger.addFilter(_Redact(secrets))
    return client_logger


class _NoResponseBodies(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Response body")


logging.getLogger("botocore.parsers").addFilter(_NoResponseBodies())
