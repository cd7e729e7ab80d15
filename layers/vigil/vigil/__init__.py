"""Vigil: a serverless operations watch.

The domain (signals, rules, the alert lifecycle, notifications, incidents) lives in plain
modules with no AWS calls; ``vigil.adapters`` holds the thin boto3 and Slack adapters that
the Lambda handlers in ``functions/`` inject into it.
"""

__version__ = "0.1.0"
