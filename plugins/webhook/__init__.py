"""Webhook notifier: JSON POSTs signed per Standard Webhooks, so other systems can react."""
