"""Random days of sales, arrears and reversals (SQLite): the ledger's invariants always hold."""

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from host_tools.vending import StationError, audit, db, mgmt, reports, vend
from host_tools.vending.money import fmt
from tests.vending.vending_setup import METERS, at, make_station
from token_spec import decode_token, derive_decoder_key

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("sell"), st.integers(0, 3), st.integers(1, 30_000)),
        st.tuples(st.just("arrears"), st.integers(0, 3), st.integers(1, 5_000)),
        st.tuples(st.just("reverse"), st.integers(0, 50), st.just(0)),
        st.tuples(st.just("replay"), st.integers(0, 50), st.just(0)),
    ),
    min_size=1,
    max_size=25,
)


def _invariants(conn):
    e = db.entries
    per_txn = conn.execute(
        select(e.c.txn_id).group_by(e.c.txn_id).having(func.sum(e.c.amount) != 0)
    ).all()
    owed = conn.execute(
        select(func.sum(e.c.amount))
        .where(e.c.account.in_(("arrears_receivable", "debt_recovery")))
        .group_by(e.c.arrear_id)
    ).scalars()
    carry = conn.execute(
        select(func.sum(e.c.amount)).where(e.c.account == "carry_forward").group_by(e.c.meter)
    ).scalars()
    return per_txn, list(owed), list(carry)


# The fixtures only set the passphrase and a cheap KDF: the same for every example.
# Bounded run time: 12 examples of at most 25 operations (about 0.6 s on a quiet 2-core
# machine) and no shrink phase. Shrinking a failure replays hundreds of station set-ups and
# may take Hypothesis's five-minute shrink limit (a 326 s run was seen on a loaded machine);
# the unshrunk falsifying example (<= 25 operations) is printed and is readable as it is.
@settings(
    max_examples=12,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=OPS)
def test_random_days_keep_the_books(ops, fast_kdf, station_env):
    with tempfile.TemporaryDirectory() as tmp:
        station = make_station(Path(tmp) / "home")
        sales = []
        for n, (op, index, minor) in enumerate(ops):
            now = at("2026-04-30 23:58") if n < len(ops) // 2 else at("2026-05-01 00:01")
            try:
                if op == "sell":
                    r = vend.sell(
                        station, METERS[index], fmt(minor), f"r{n}", "card", "boss", now=now
                    )
                    sales.append(r)
                    key = derive_decoder_key(station.key, r["meter"], 1)
                    assert decode_token(key, r["meter"], r["token"])[1] == r["units"]
                elif op == "replay" and sales:
                    first = sales[index % len(sales)]
                    again = vend.sell(
                        station,
                        first["meter"],
                        first["amount"],
                        first["ref"],
                        "cash",
                        "clerk",
                        now=now,
                    )
                    assert (again["token"], again["receipt"]) == (first["token"], first["receipt"])
                elif op == "arrears":
                    mgmt.add_arrears(station, METERS[index], fmt(minor), "", now=now)
                elif op == "reverse" and sales:
                    target = sales[index % len(sales)]
                    vend.reverse(station, target["receipt"], "test", "boss", now=now)
            except StationError as error:
                # Only the refusals a cashier can meet: tiny amounts and reversing twice
                # (currency meters carry what a token cannot, issue 13).
                assert any(
                    words in str(error) for words in ("buys no energy", "already reversed")
                ), error
        for meter in METERS:  # TIDs rise strictly in the order the tokens were sold
            tids = [r["tid"] for r in sales if r["meter"] == meter]
            assert tids == sorted(set(tids))
        per_txn, owed, carry = station.read(_invariants)
        assert per_txn == [] and all(v >= 0 for v in owed) and all(v <= 0 for v in carry)
        for day in ("2026-04-30", "2026-05-01"):
            assert reports.day(station, day)["books_balance"]
        assert audit.verify(station)["ok"]
        station.close()
