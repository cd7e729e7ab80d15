"""The lists' filters: Alertmanager matcher strings on an alert's labels.

``--match`` takes one matcher as Alertmanager writes it (``amtool alert query`` and the
``matchers`` of its config), parsed by :mod:`vigil.rules.matchers` as routes and silences parse
theirs: ``LABEL=VALUE``, ``LABEL!=VALUE``, ``LABEL=~REGEX`` and ``LABEL!~REGEX`` (anchored), the
value bare or in double quotes. A label the alert does not have has the empty value, as in
Alertmanager. Filters only choose what a list prints; what mutes an alert is a silence.
"""

import argparse

from vigil.rules.matchers import Matcher, parse_matcher


def parse_filter(text: str) -> Matcher:
    """An argparse type: ``team="payments"`` as a :class:`Matcher`."""
    try:
        return parse_matcher(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f'{text!r}: {exc} (a matcher like kind=lambda.errors, team!="ops"'
            ' or resource=~"orders-.*")'
        ) from exc
