"""Slack notifier: posts to an incoming-webhook URL."""
