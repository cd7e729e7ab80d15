"""The outage runbook: the incident, its steps, the approval gate, failover plans, the status
page, the report, and the Slack buttons people answer it with."""
