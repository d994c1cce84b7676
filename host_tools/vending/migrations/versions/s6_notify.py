"""Schema 6: customer messages — customer contacts, the notification outbox and its deliveries
(added tables only; written out here, not imported from db.py)."""

import sqlalchemy as sa
from alembic import op

revision = "s6"
down_revision = "s5"

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade():
    op.create_table(
        "customer_contacts",
        sa.Column("meter", sa.Text, sa.ForeignKey("meters.number"), primary_key=True),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("phone", sa.Text, nullable=False),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("email_opt_in", sa.Boolean, nullable=False),
        sa.Column("sms_opt_in", sa.Boolean, nullable=False),
    )
    op.create_table(
        "notify_outbox",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("dedupe_key", sa.Text, nullable=False, unique=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("meter", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("fanned_at", sa.Text),
    )
    op.create_index("ix_notify_outbox_unfanned", "notify_outbox", ["fanned_at", "id"])
    op.create_table(
        "notify_deliveries",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("outbox_id", sa.BigInteger, sa.ForeignKey("notify_outbox.id"), nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("critical", sa.Boolean, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", sa.Text, nullable=False),
        sa.Column("claimed_by", sa.Text),
        sa.Column("claimed_at", sa.Text),
        sa.Column("sent_at", sa.Text),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.UniqueConstraint("outbox_id", "channel", name="uq_notify_deliveries_once"),
    )
    op.create_index("ix_notify_deliveries_due", "notify_deliveries", ["state", "next_at"])
