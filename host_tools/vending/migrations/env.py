"""Alembic environment for `prepay station upgrade` (host_tools/vending/upgrade.py).

Runs on the connection the caller opened (config.attributes["connection"]), inside the
caller's transaction: the whole upgrade commits or nothing does."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
