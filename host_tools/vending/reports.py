"""`prepay report day`: the batch close — totals per channel and cashier, reversals, and a check
that the books balance (every txn sums to zero, and the cash booked matches the sales)."""

from sqlalchemy import func, select

from host_tools.vending import db
from host_tools.vending.money import fmt


def _books(conn):
    """Problems with the double entry over the whole ledger ([] when the books balance)."""
    e = db.entries
    problems = []
    total = conn.execute(select(func.coalesce(func.sum(e.c.amount), 0))).scalar_one()
    if total != 0:
        problems.append(f"all entries sum to {fmt(int(total))}, not 0")
    unbalanced = conn.execute(
        select(db.txns.c.seq, func.sum(e.c.amount))
        .join(db.txns, db.txns.c.id == e.c.txn_id)
        .group_by(db.txns.c.seq)
        .having(func.sum(e.c.amount) != 0)
        .limit(10)
    ).all()
    problems += [f"txn {seq} sums to {fmt(int(amount))}" for seq, amount in unbalanced]
    return problems


def day(station, date=None, cashier=None):
    """The day report as a dict (the CLI prints it as tables or JSON)."""
    date = date or station.stamp().local_date
    return {"date": date, **period(station, date, date, cashier)}


def period(station, first, last, cashier=None):
    """Totals per channel and cashier of the txns dated `first`..`last` (YYYY-MM-DD, both
    included); reversals count on the day they are made. The month report uses it too."""

    def work(conn):
        t, s, e = db.txns, db.sales, db.entries
        where = [t.c.local_date.between(first, last)]
        if cashier is not None:
            where.append(t.c.cashier == cashier)
        sales = conn.execute(
            select(t.c.cashier, s.c.channel, func.count(), func.sum(s.c.amount))
            .join(s, s.c.txn_id == t.c.id)
            .where(*where)
            .group_by(t.c.cashier, s.c.channel)
        ).all()
        original = s.alias("original")
        reversed_rows = conn.execute(
            select(t.c.cashier, original.c.channel, func.count(), func.sum(original.c.amount))
            .join(db.reversals, db.reversals.c.reversal_id == t.c.id)
            .join(original, original.c.txn_id == db.reversals.c.original_id)
            .where(*where)
            .group_by(t.c.cashier, original.c.channel)
        ).all()
        accounts = conn.execute(
            select(e.c.account, func.sum(e.c.amount))
            .join(t, t.c.id == e.c.txn_id)
            .where(*where)
            .group_by(e.c.account)
        ).all()
        kinds = conn.execute(select(t.c.kind, func.count()).where(*where).group_by(t.c.kind))
        return sales, reversed_rows, accounts, dict(kinds.all()), _books(conn)

    sales, reversed_rows, accounts, kinds, problems = station.read(work)
    channels, cashiers = {}, {}

    def add(table, name, field, count, amount):
        row = table.setdefault(name, {"sales": 0, "sold": 0, "reversals": 0, "reversed": 0})
        row[field[0]] += count
        row[field[1]] += int(amount)

    for who, channel, count, amount in sales:
        add(channels, channel, ("sales", "sold"), count, amount)
        add(cashiers, who or "-", ("sales", "sold"), count, amount)
    for who, channel, count, amount in reversed_rows:
        add(channels, channel, ("reversals", "reversed"), count, amount)
        add(cashiers, who or "-", ("reversals", "reversed"), count, amount)
    balances = {account: int(amount) for account, amount in accounts}
    cash_booked = sum(v for k, v in balances.items() if k.startswith("cash:"))
    for table in (channels, cashiers):
        for row in table.values():
            row["net"] = row["sold"] - row["reversed"]
    net = sum(row["net"] for row in channels.values())
    if cash_booked != net:
        problems.append(f"cash booked {fmt(cash_booked)} differs from net sales {fmt(net)}")
    money = ("sold", "reversed", "net")
    return {
        "cashier": cashier,
        "channels": {k: _fmt_row(v, money) for k, v in sorted(channels.items())},
        "cashiers": {k: _fmt_row(v, money) for k, v in sorted(cashiers.items())},
        "counts": {
            kind: kinds.get(kind, 0) for kind in ("sale", "reversal", "token", "config", "arrears")
        },
        "accounts": {k: fmt(v) for k, v in sorted(balances.items())},
        "total_net": fmt(net),
        "books_balance": not problems,
        "problems": problems,
    }


def _fmt_row(row, money):
    return {k: (fmt(v) if k in money else v) for k, v in row.items()}
