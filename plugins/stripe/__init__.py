"""Stripe: subscription and customer events feed customer status and MRR, to verify saves."""
