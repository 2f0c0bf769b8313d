"""Zammad: trigger webhooks (ticket + article), signed with X-Hub-Signature (HMAC-SHA1)."""
