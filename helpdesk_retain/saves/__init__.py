"""Saved customers: recording saves (tag or API), verifying that they held, and showing them.

Modules: ``fields`` (reading a save from tags and custom fields), ``record`` (the ticket step and the
API's recording), ``verify`` (the customer step and the scheduler job), ``view`` (ticket section and
``flag=saved``), ``schemas`` and ``web`` (the API). Figures live in ``helpdesk_retain.retention``.
Importing this package does not import the web layer.
"""

from .record import ticket_step
from .verify import customer_step, run_due_save_checks
from .view import load_save_sections, saved_flag

__all__ = ["customer_step", "load_save_sections", "run_due_save_checks", "saved_flag", "ticket_step"]
