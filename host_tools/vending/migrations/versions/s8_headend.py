"""Schema 8: the head-end's tables — meter_links, meter_events, readings, deliveries.

Tables as they were at schema 8 (written out here, not imported from db.py, so later changes to
db.py do not change what this step does). A schema-7 station's old sales are not queued for
remote delivery: only sales from now on are."""

import sqlalchemy as sa
from alembic import op

revision = "s8"
down_revision = "s7"


def upgrade():
    op.create_table(
        "meter_links",
        sa.Column("meter", sa.Text, primary_key=True),
        sa.Column("online", sa.Boolean, nullable=False),
        sa.Column("changed_at", sa.Text, nullable=False),
        sa.Column("state", sa.Text),
        sa.Column("acked_seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "meter_events",
        sa.Column("meter", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("a", sa.BigInteger, nullable=False),
        sa.Column("b", sa.BigInteger, nullable=False),
        sa.Column("received_at", sa.Text, nullable=False),
    )
    op.create_table(
        "readings",
        sa.Column("meter", sa.Text, primary_key=True),
        sa.Column("slot", sa.BigInteger, primary_key=True),
        sa.Column("credit", sa.BigInteger, nullable=False),
        sa.Column("energy_wh", sa.BigInteger, nullable=False),
        sa.Column("power_w", sa.BigInteger, nullable=False),
        sa.Column("relay", sa.Text, nullable=False),
        sa.Column("zone", sa.Text, nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column(
            "txn_id",
            sa.BigInteger,
            sa.ForeignKey("txns.id", deferrable=True, initially="DEFERRED"),
            primary_key=True,
        ),
        sa.Column("meter", sa.Text, nullable=False),
        sa.Column("digits", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("result", sa.Text),
        sa.Column("sent_at", sa.Text),
        sa.Column("closed_at", sa.Text),
    )
    op.create_index("ix_deliveries_meter_status", "deliveries", ["meter", "status"])


def downgrade():
    for table in ("deliveries", "readings", "meter_events", "meter_links"):
        op.drop_table(table)
