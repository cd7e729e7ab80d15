"""CloudWatch alarms as input: the state changes of the alarms the user selects, read from
EventBridge and handed to the Evaluate workflow as signals (ADR 47)."""
