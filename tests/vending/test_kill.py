"""A vend killed at any point never leaves a token without its sale; a retry with the same
reference returns the token the customer may already have seen.

Each run forks a child that opens the station and sells with PREPAY_VEND_CRASH_AT set to a
seeded random point (1-5 inside the DB transaction, 6 after commit before the receipt is shown,
or none), or is SIGKILLed after a random delay. The parent checks the database, retries the
same reference and compares tokens.
"""

import os
import random
import signal
import time

import pytest
from sqlalchemy import func, select

from host_tools.vending import audit, db, reports, vend
from host_tools.vending.faults import CRASH_EXIT, CRASH_POINTS
from host_tools.vending.station import Station
from tests.vending.vending_setup import METERS

RUNS = {"sqlite": 220, "postgres": 60}
SIGKILL_RUNS = {"sqlite": 30, "postgres": 10}


def _child(home, meter, amount, ref, crash_at, write_fd):
    if crash_at is not None:
        os.environ["PREPAY_VEND_CRASH_AT"] = str(crash_at)
    try:
        station = Station(home)
        token = vend.sell(station, meter, amount, ref, "cash", "clerk")["token"]
        os.write(write_fd, token.encode())  # "the receipt was printed"
        os._exit(0)
    except BaseException:  # noqa: BLE001 - any failure must be visible to the parent
        os._exit(3)


def _attempt(home, meter, amount, ref, crash_at=None, kill_after=None):
    """Fork one vending process; returns (exit status, token it printed or None)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(home, meter, amount, ref, crash_at, write_fd)
    os.close(write_fd)
    if kill_after is not None:
        time.sleep(kill_after)
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    printed = b""
    while chunk := os.read(read_fd, 64):
        printed += chunk
    os.close(read_fd)
    return status, printed.decode() or None


def _sale_for(station, ref):
    def work(conn):
        return conn.execute(select(db.sales.c.txn_id).where(db.sales.c.ref == ref)).scalar()

    return station.read(work)


def test_killed_vends_never_lose_a_sale(station):
    backend = "postgres" if db.is_postgres(station.engine) else "sqlite"
    rng = random.Random(20261122)
    station.engine.dispose()  # no pooled connection crosses fork()
    crashes = {}
    for run in range(RUNS[backend] + SIGKILL_RUNS[backend]):
        meter = METERS[run % 4]
        ref = f"kill-{run}"
        if run < RUNS[backend]:
            point = rng.randint(1, CRASH_POINTS + 1)  # CRASH_POINTS + 1: no crash
            status, printed = _attempt(station.home, meter, "10", ref, crash_at=point)
            died = os.WIFEXITED(status) and os.WEXITSTATUS(status) == CRASH_EXIT
            assert died == (point <= CRASH_POINTS), (run, point, status)
            committed = _sale_for(station, ref) is not None
            # Points 1-5 are inside the transaction: nothing may remain. 6 is after commit.
            assert committed == (point >= 6), (run, point)
            crashes[point] = crashes.get(point, 0) + 1
        else:
            status, printed = _attempt(
                station.home, meter, "10", ref, kill_after=rng.uniform(0, 0.05)
            )
        retry = vend.sell(station, meter, "10", ref, "cash", "clerk")
        if printed is not None:
            assert retry["token"] == printed, (run, ref)
        station.engine.dispose()
    assert set(crashes) == set(range(1, CRASH_POINTS + 2))

    def orphans(conn):
        t, s = db.tokens, db.sales
        lonely = conn.execute(
            select(func.count())
            .select_from(t)
            .where(~select(s.c.txn_id).where(s.c.txn_id == t.c.txn_id).exists())
        ).scalar_one()
        sales = conn.execute(select(func.count()).select_from(s)).scalar_one()
        return lonely, sales

    lonely, sales = station.read(orphans)
    assert lonely == 0
    assert sales == RUNS[backend] + SIGKILL_RUNS[backend]
    assert reports.day(station)["books_balance"]
    assert audit.verify(station)["ok"]


def test_crash_points_are_inert_without_the_variable(station):
    assert "PREPAY_VEND_CRASH_AT" not in os.environ
    assert vend.sell(station, METERS[0], "10", "plain", "cash", "clerk")["token"]


pytestmark = pytest.mark.slow
