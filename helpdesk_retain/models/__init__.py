"""SQLModel tables, one module per domain; importing this package registers them all on the metadata."""

from sqlmodel import SQLModel

from .core import ApiToken, Customer, Delivery, Ticket, TicketLog
from .digest import Digest  # noqa: F401
from .followups import FollowUp  # noqa: F401
from .links import BugLink, Issue  # noqa: F401
from .messages import Message  # noqa: F401
from .saves import Save, SaveEvent  # noqa: F401
from .search import include_object  # noqa: F401 - also registers the text index's create hook
from .tagging import ComplaintState, RiskSignal  # noqa: F401
from .tat import TatClock, TatEvent, TatReplay  # noqa: F401
from .users import LoginAttempt, User, WebSecret  # noqa: F401

metadata = SQLModel.metadata

__all__ = ["ApiToken", "Customer", "Delivery", "Ticket", "TicketLog", "metadata"]
