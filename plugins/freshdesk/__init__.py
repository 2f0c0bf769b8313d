"""Freshdesk: automation-rule webhooks, authenticated by a shared secret (Freshdesk signs nothing)."""
