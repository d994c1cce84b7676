"""16 processes vend against PostgreSQL at once, with repeated references."""

import random

from sqlalchemy import func, select

from host_tools.vending import audit, db, reports
from host_tools.vending.station import Station
from tests.support.loadgen import run_clients
from tests.vending.conftest import new_pg_database
from tests.vending.vending_setup import METERS, make_station

PROCESSES = 16
PER_PROCESS = 25


def test_sixteen_processes_no_duplicate_tid_or_token(tmp_path, pg_server, fast_kdf, station_env):
    home = tmp_path / "home"
    make_station(home, new_pg_database(pg_server)).close()
    rng = random.Random(7)
    # 250 distinct requests; every process draws 25 of them, so most refs are sent 1-4 times,
    # often at the same moment by different processes.
    requests = [(METERS[i % 4], f"{5 + i % 7}.00", f"ref-{i}") for i in range(250)]
    plans = [rng.sample(requests, PER_PROCESS) for _ in range(PROCESSES)]
    # Ten references each sent by every process for a different meter: the unique reference
    # lets one of them sell, the others must be told the reference is used (after a retry).
    for p, plan in enumerate(plans):
        plan[3:3] = [(METERS[p % 4], "5.00", f"clash-{k}") for k in range(10)]
    _wall, results, _cpu = run_clients(home, plans)

    assert len(results) == PROCESSES * (PER_PROCESS + 10)
    refused = [r for r in results if r[6] is not None]
    assert all(r[0].startswith("clash-") and "already used" in r[6] for r in refused)
    tokens_by_ref = {}
    for ref, _meter, _amount, token, _tid, _receipt, error in results:
        if error is None:
            tokens_by_ref.setdefault(ref, set()).add(token)
    assert all(f"clash-{k}" in tokens_by_ref for k in range(10))
    assert all(len(tokens) == 1 for tokens in tokens_by_ref.values())
    repeated = [ref for ref in tokens_by_ref if sum(r[0] == ref for r in results) > 1]
    assert len(repeated) > 50  # the test really exercised concurrent retries

    station = Station(home)

    def facts(conn):
        t, s = db.tokens, db.sales
        duplicates = conn.execute(
            select(t.c.meter, t.c.tid).group_by(t.c.meter, t.c.tid).having(func.count() > 1)
        ).all()
        per_ref = conn.execute(
            select(s.c.ref, func.count()).group_by(s.c.ref).having(func.count() > 1)
        ).all()
        sales = conn.execute(select(func.count()).select_from(s)).scalar_one()
        tokens = conn.execute(select(func.count()).select_from(t)).scalar_one()
        return duplicates, per_ref, sales, tokens

    duplicates, per_ref, sales, tokens = station.read(facts)
    assert duplicates == [] and per_ref == []
    assert sales == tokens == len(tokens_by_ref)
    assert reports.day(station)["books_balance"]
    assert audit.verify(station)["ok"]
    station.close()
