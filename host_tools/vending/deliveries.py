"""Remote top-up: the rows that queue a sale's token for the head-end (host_tools/headend).

Written by the sale in its own transaction (`vend.sell`'s side rows), so a token is queued if
and only if it was sold; the head-end pushes pending deliveries to online meters. Keypad-only
meters' deliveries just stay pending (nothing is lost by a queue nobody drains).
"""

from host_tools.vending import db

PENDING = "pending"


def delivery_rows(txn_id, meter, issued):
    """(deliveries table, rows) for the credit tokens of one sale: [(tid, kind, value, digits)]."""
    rows = [
        {"txn_id": txn_id, "meter": meter, "digits": digits, "status": PENDING, "attempts": 0}
        for _tid, kind, _value, digits in issued
        if kind == "credit"
    ]
    return db.deliveries, rows
