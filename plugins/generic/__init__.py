"""The generic source: tickets in helpdesk-retain's own shape, signed per Standard Webhooks."""
