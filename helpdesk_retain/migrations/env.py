"""Alembic environment: runs on the connection handed over by ``helpdesk_retain.schema.migrate``."""

from alembic import context

from helpdesk_retain.models import metadata
from helpdesk_retain.models.search import include_object

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=include_object,  # the ticket text index: created by hand, see models/search.py
)
with context.begin_transaction():
    context.run_migrations()
