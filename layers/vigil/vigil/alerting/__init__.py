"""From a verdict to a message: the alert lifecycle, silences, grouping, and the outbox.

A breach steps an alert (``lifecycle``); its events are silenced or routed into groups
(``silences``, ``notify``, ``grouping``); a group that is due becomes a message
(``messages``), stored in the outbox with the change that decided it (``outbox``).
"""
