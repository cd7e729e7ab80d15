"""Post to a Microsoft Teams Workflows webhook: the same JSON POST and retries as Slack's.

The flow ("When a Teams webhook request is received") answers 202 Accepted once it has the
message; what still fails after the retries raises ``ChatDeliveryError``, as for Slack.
"""

from vigil.adapters.slack import SlackWebhook


class TeamsWebhook(SlackWebhook):
    platform = "Teams workflow"
    accepted = frozenset({200, 202})
