"""The error groups stage: a Lambda errors alert that is about to speak names its top tracked
errors (``vigil.tracking``, ADR 42), read from the error store for the alert's span.

A metrics signal counts errors without saying which; the error stream has kept, per function,
each kind of error it raised. At most ``MAX_ANNOTATED`` alerts are annotated an evaluation (one
``Query`` each), so a storm of failing functions costs a bounded number of reads: the group
messages carry the first alerts in full, and the rest by name.
"""

from dataclasses import replace
from datetime import timedelta

from vigil.evaluation.flow import Stepped
from vigil.evaluation.ports import Evaluation

ERROR_KINDS = frozenset({"lambda.errors", "lambda.async_errors"})
MAX_ANNOTATED = 50
TOP_GROUPS = 3


def annotate_errors(ctx: Evaluation, stepped: Stepped) -> Stepped:
    """Give each Lambda errors alert that notifies its function's top error groups."""
    if ctx.errors is None:
        return stepped
    transitions = list(stepped.transitions)
    budget = MAX_ANNOTATED
    for index, transition in enumerate(transitions):
        alert = transition.after
        if budget == 0:
            break
        if alert is None or transition.notify is None or alert.labels.kind not in ERROR_KINDS:
            continue
        budget -= 1
        since = alert.first_seen - timedelta(seconds=alert.evidence.window_seconds)
        groups = ctx.errors.groups(alert.labels.resource, since=since, limit=TOP_GROUPS)
        if groups:
            evidence = alert.evidence.model_copy(update={"errors": groups})
            annotated = alert.model_copy(update={"evidence": evidence})
            transitions[index] = replace(transition, after=annotated)
    return Stepped(stepped.intake, transitions)
