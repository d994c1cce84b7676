"""Running totals on the meter row (meters.carried, totals_month, month_units,
month_standing), so a sale never sums its meter's history; computed here for every meter from
its entries and sales, as ledger.append and the sale keep them (db.meters). And the indexes
that keep a sale's other reads and writes from scanning the ledger: a meter's txns by kind
(its signed configs), and the columns referencing txns.id (SQLite's deferred foreign key check).

Written out as they are at this schema (not imported from db.py, so later changes to db.py do
not change what this step does)."""

import sqlalchemy as sa
from alembic import op

revision = "s9"
down_revision = "s8"


def upgrade():
    op.create_index("ix_txns_meter_kind_seq", "txns", ["meter", "kind", "seq"])
    for table in ("tokens", "token_refs", "config_counters"):
        op.create_index(f"ix_{table}_txn_id", table, ["txn_id"])
    with op.batch_alter_table("meters") as batch:
        for name in ("carried", "month_units", "month_standing"):
            batch.add_column(sa.Column(name, sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("totals_month", sa.Text))
    meters = sa.table(
        "meters",
        sa.column("number"),
        sa.column("carried"),
        sa.column("totals_month"),
        sa.column("month_units"),
        sa.column("month_standing"),
    )
    entries = sa.table("entries", sa.column("meter"), sa.column("account"), sa.column("amount"))
    sales = sa.table(
        "sales",
        sa.column("txn_id"),
        sa.column("meter"),
        sa.column("month"),
        sa.column("units"),
        sa.column("standing"),
    )
    reversals = sa.table("reversals", sa.column("original_id"))
    carried = sa.select(sa.func.coalesce(-sa.func.sum(entries.c.amount), 0)).where(
        entries.c.meter == meters.c.number, entries.c.account == "carry_forward"
    )
    op.execute(meters.update().values(carried=carried.scalar_subquery()))
    # The newest month the meter sold in: the month a next sale continues (or starts again).
    newest = sa.select(sa.func.max(sales.c.month)).where(sales.c.meter == meters.c.number)
    op.execute(meters.update().values(totals_month=newest.scalar_subquery()))

    def month_sum(column):
        unreversed = (
            ~sa.select(reversals.c.original_id)
            .where(reversals.c.original_id == sales.c.txn_id)
            .exists()
        )
        return sa.select(sa.func.coalesce(sa.func.sum(column), 0)).where(
            sales.c.meter == meters.c.number,
            sales.c.month == meters.c.totals_month,
            unreversed,
        )

    op.execute(
        meters.update().values(
            month_units=month_sum(sales.c.units).scalar_subquery(),
            month_standing=month_sum(sales.c.standing).scalar_subquery(),
        )
    )
