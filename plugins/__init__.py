"""Built-in integrations, installed as ``helpdesk_retain.plugins``; one folder per integration."""
