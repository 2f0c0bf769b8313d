"""Zendesk: trigger webhooks (the README's JSON template) and event subscriptions, HMAC-SHA256 signed."""
