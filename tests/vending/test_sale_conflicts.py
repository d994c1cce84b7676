"""A sale reads the meter without a lock and writes with a check of the meter's version
(PostgreSQL's first attempt): a write that committed in between must make it run again under
the lock, and a failed check must leave nothing behind."""

import threading
import time

import psycopg
import pytest
from sqlalchemy import func, select

from host_tools.vending import audit, db, ledger, mgmt, reports, vend
from tests.vending.conftest import new_pg_database
from tests.vending.test_vend import NOON, snapshot
from tests.vending.vending_setup import DEBT_METER, KWH_METER, make_station


def _version(station, meter):
    def work(conn):
        return conn.execute(
            select(db.meters.c.version).where(db.meters.c.number == meter)
        ).scalar_one()

    return station.read(work)


def test_a_stale_version_writes_nothing(station):
    vend.sell(station, KWH_METER, "10", "first", "cash", "clerk", now=NOON)
    before = snapshot(station)
    stale = _version(station, KWH_METER) - 1
    body = {"request": "probe"}
    with station.engine.begin() as conn:
        with pytest.raises(db.Conflict):
            ledger.append(conn, "token", KWH_METER, station.stamp(NOON), "", body, [], guard=stale)
    assert snapshot(station) == before


def test_a_sale_moves_the_version_once(station):
    before = _version(station, KWH_METER)
    vend.sell(station, KWH_METER, "10", "one", "cash", "clerk", now=NOON)
    assert _version(station, KWH_METER) == before + 1


def _waiting(url, what):
    """Backends of this database waiting for a lock of kind `what` (pg_locks.locktype)."""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = %s", (what,)
        ).fetchone()[0]


def _until(condition, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def pg_station(tmp_path, pg_server, fast_kdf, station_env):
    """PostgreSQL only: SQLite sales always run under BEGIN IMMEDIATE, nothing to race."""
    opened = make_station(tmp_path / "home", new_pg_database(pg_server))
    yield opened
    opened.close()


def test_a_write_committed_after_the_read_makes_the_sale_retry_under_the_lock(pg_station):
    station = pg_station
    url = station.url.replace("postgresql+psycopg://", "postgresql://")
    results = {}

    def run(name, fn):
        try:
            results[name] = fn()
        except BaseException as error:  # noqa: BLE001 - reported by the assertions below
            results[name] = error

    # Hold the ledger's chain lock, so the arrears below lock (and move) the meter and then
    # wait, uncommitted, while the sale reads the meter and tries to write.
    with psycopg.connect(url, autocommit=True) as chain:
        chain.execute("SELECT pg_advisory_lock(%s)", (db.CHAIN_LOCK,))
        arrears = threading.Thread(
            target=run,
            args=("arrears", lambda: mgmt.add_arrears(station, DEBT_METER, "40", "old", now=NOON)),
        )
        arrears.start()
        _until(lambda: _waiting(url, "advisory") == 1, "the arrears to wait for the chain")
        sale = threading.Thread(
            target=run,
            args=("sale", lambda: vend.sell(station, DEBT_METER, "20", "s1", "cash", "clerk")),
        )
        sale.start()
        # The sale read the meter without the arrears and now waits for the meter's row.
        _until(lambda: _waiting(url, "transactionid") == 1, "the sale to wait for the meter")
        chain.execute("SELECT pg_advisory_unlock(%s)", (db.CHAIN_LOCK,))
        arrears.join(30)
        sale.join(30)
    assert not isinstance(results["arrears"], BaseException), results["arrears"]
    assert not isinstance(results["sale"], BaseException), results["sale"]
    # Run again under the lock, the sale saw the arrears: 25 % of 20.00 recovered.
    assert results["sale"]["debt_recovered_minor"] == 500
    summary = mgmt.meter_summary(station, DEBT_METER)
    assert summary["arrears_total"] == "35.00"

    def sales(conn):
        return conn.execute(select(func.count()).select_from(db.sales)).scalar_one()

    assert station.read(sales) == 1
    assert reports.day(station)["books_balance"]
    assert audit.verify(station)["ok"]
