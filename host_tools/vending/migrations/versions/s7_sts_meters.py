"""Schema 7: STS meters (issue 16, docs/sts.md "The station") — sts_meters beside a meter's
`meters` row, its key generations in sts_keys (parameters only, never a key) and which sale
carried which generation's key change tokens (sts_kct_sales). Added tables only.

Written out as they were at schema 6 (not imported from db.py, so later changes to db.py do not
change what this step does)."""

import sqlalchemy as sa
from alembic import op

revision = "s7"
down_revision = "s6"


def upgrade():
    op.create_table(
        "sts_meters",
        sa.Column("number", sa.Text, sa.ForeignKey("meters.number"), primary_key=True),
        sa.Column("pan", sa.Text, nullable=False, unique=True),
        sa.Column("ea", sa.Integer, nullable=False),
        sa.Column("mfr", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
    )
    op.create_table(
        "sts_keys",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("meter", sa.Text, sa.ForeignKey("sts_meters.number"), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("sgc", sa.Text, nullable=False),
        sa.Column("ti", sa.Integer, nullable=False),
        sa.Column("kt", sa.Integer, nullable=False),
        sa.Column("krn", sa.Integer, nullable=False),
        sa.Column("ken", sa.Integer, nullable=False),
        sa.Column("dkga", sa.Integer, nullable=False),
        sa.Column("base", sa.Integer, nullable=False),
        sa.Column("ro", sa.Integer, nullable=False),
        sa.Column("campaign", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.UniqueConstraint("meter", "generation", name="uq_sts_keys_generation"),
    )
    txn = sa.ForeignKey("txns.id", deferrable=True, initially="DEFERRED")
    op.create_table(
        "sts_kct_sales",
        sa.Column("key_id", sa.BigInteger, sa.ForeignKey("sts_keys.id"), primary_key=True),
        sa.Column("txn_id", sa.BigInteger, txn, primary_key=True),
    )
