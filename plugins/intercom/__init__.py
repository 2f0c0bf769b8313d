"""Intercom: notification_event webhooks (conversations, tickets, contacts), signed with X-Hub-Signature."""
