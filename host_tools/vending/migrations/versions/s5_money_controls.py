"""Schema 5: money and supply controls — a per-meter maximum per sale (meters.rated_amps,
meters.max_sale_kwh) and arrears closed by a write-off or a reversal (arrears_closed).

Written out as they were at schema 5 (not imported from db.py, so later changes to db.py do not
change what this step does)."""

import sqlalchemy as sa
from alembic import op

revision = "s5"
down_revision = "s4"


def _txn_ref(name, **kwargs):
    fk = sa.ForeignKey("txns.id", deferrable=True, initially="DEFERRED")
    return sa.Column(name, sa.BigInteger, fk, **kwargs)


def upgrade():
    # NULL in both: the station's default rated current and no explicit cap (limits.py).
    with op.batch_alter_table("meters") as batch:
        batch.add_column(sa.Column("rated_amps", sa.Integer))
        batch.add_column(sa.Column("max_sale_kwh", sa.Integer))
    op.create_table(
        "arrears_closed",
        _txn_ref("arrear_id", primary_key=True),
        _txn_ref("txn_id", nullable=False, unique=True),
        sa.Column("how", sa.Text, nullable=False),
    )
