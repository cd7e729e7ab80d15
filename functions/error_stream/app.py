"""Temporary error stream handler: decodes a CloudWatch Logs subscription event and logs how
many log events it carried."""

import base64
import gzip
import json
import logging
from typing import Any

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    message = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    count = len(message.get("logEvents", []))
    logger.info("%s from %s: %d events", message["messageType"], message["logGroup"], count)
    return {"messageType": message["messageType"], "events": count}
