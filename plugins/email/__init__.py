"""Email notifier: SMTP with STARTTLS or implicit TLS and AUTH; without ``[smtp]``, ``.eml`` files in the outbox."""
