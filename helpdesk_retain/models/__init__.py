"""SQLModel tables, one module per domain; importing this package registers them all on the metadata."""

from sqlmodel import SQLModel

from .core import ApiToken, Customer, Delivery, Ticket, TicketLog

metadata = SQLModel.metadata

__all__ = ["ApiToken", "Customer", "Delivery", "Ticket", "TicketLog", "metadata"]
