"""Captured SNS email deliveries.

moto accepts ``email``/``email-json`` subscriptions but delivers nothing to them. The emulator
intercepts the delivery (after moto's filter-policy check and ``MessageStructure=json``
parsing, so ``body`` is the ``email`` key of a structured message) and records it here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

DEFAULT_SUBJECT = "AWS Notification Message"
"""What SNS puts in the subject line when a message has no Subject."""


@dataclass(frozen=True)
class Email:
    """One email SNS would have sent."""

    to: str
    subject: str
    body: str
    """The message as SNS delivers it to this protocol (the envelope JSON for email-json)."""
    protocol: str
    topic_arn: str
    subscription_arn: str
    message_id: str
    message_attributes: dict[str, dict[str, Any]]
    """As SNS carries them: ``{"severity": {"Type": "String", "Value": "critical"}}``."""
    sent_at: datetime
    """Simulated time of the publish."""

    def attribute(self, name: str) -> str | None:
        value = self.message_attributes.get(name)
        return None if value is None else str(value.get("Value"))

    def rendered(self) -> str:
        """The mail as a recipient would read it, SNS's unsubscribe footer included."""
        attributes = ", ".join(
            f"{k}={v.get('Value')}" for k, v in sorted(self.message_attributes.items())
        )
        return (
            f"From: AWS Notifications <no-reply@sns.amazonaws.com>\n"
            f"To: {self.to}\n"
            f"Subject: {self.subject}\n"
            f"Date: {self.sent_at.isoformat()}\n"
            f"X-SNS-Message-Attributes: {attributes}\n"
            f"\n{self.body}\n\n--\n"
            "If you wish to stop receiving notifications from this topic, please click or visit"
            f" the link below to unsubscribe:\n(unsubscribe link for {self.subscription_arn})\n"
        )


class Mailbox:
    """Thread-safe list of :class:`Email` (SNS deliveries happen in Step Functions threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._emails: list[Email] = []
        self._listeners: list[Callable[[Email], None]] = []

    def deliver(self, email: Email) -> None:
        with self._lock:
            self._emails.append(email)
        for listener in list(self._listeners):
            listener(email)

    def on_email(self, listener: Callable[[Email], None]) -> None:
        self._listeners.append(listener)

    @property
    def emails(self) -> list[Email]:
        with self._lock:
            return list(self._emails)

    def to(self, address: str) -> list[Email]:
        return [e for e in self.emails if e.to == address]

    def clear(self) -> None:
        with self._lock:
            self._emails.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._emails)
