"""Outbound notifications: the notifier contract, message rows delivered once, routing and producers.

- ``contract``: ``Notifier`` (plugins in entry-point group ``helpdesk_retain.notifiers``), errors, messages
- ``outbox``: ``enqueue`` (idempotent by dedupe key)
- ``delivery``: ``run_due_messages`` (claim, send, record; backoff; stale claims)
- ``routing`` / ``render`` / ``producers``: who hears what; ``run_due_notifications`` turns due
  follow-ups, escalations and TAT records into messages
"""

from .contract import (
    GROUP,
    InlineImage,
    Notifier,
    NotifierConfig,
    NotifierError,
    OutboundMessage,
    PermanentError,
    TransientError,
)

__all__ = [
    "GROUP",
    "InlineImage",
    "Notifier",
    "NotifierConfig",
    "NotifierError",
    "OutboundMessage",
    "PermanentError",
    "TransientError",
]
