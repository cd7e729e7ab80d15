"""Vigil: a serverless operations watch.

The capabilities (``rules``, ``alerting``, ``dials``, ``cost``, ``health``, ``channels``,
``evaluation``, ``runbook``) are plain modules with no AWS calls, built on ``core``;
``adapters`` holds the thin boto3 and Slack adapters behind their ports, and ``compose`` wires
them for each Lambda function in ``functions/``. docs/architecture.md, "Layout", draws it.
"""

__version__ = "0.1.0"
