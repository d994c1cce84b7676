"""bench/headend.py runs: a few meters for a few seconds print every figure and leave their
rows in the station (no timing asserted: the bench's figures are for people to read)."""

import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from host_tools.vending import db
from host_tools.vending.station import Station

ROOT = Path(__file__).resolve().parents[2]
METERS, SALES = 20, 3

FIGURES = (
    r"messages/s handled: +\d+",
    r"head-end CPU per message: \d+ us",
    r"backlog \(published, not yet handled\): start -?\d+, end -?\d+ messages .*, 0 lost",
    rf"delivery latency .*{SALES} sales\): p50 \d+ ms, p99 \d+ ms",
    r"DB rows per meter per day: \d+ = \d+\.\d readings",
)


def _count(station, table, *where):
    query = select(func.count()).select_from(table)
    for clause in where:
        query = query.where(clause)
    return station.read(lambda c: c.execute(query).scalar_one())


def test_the_bench_prints_its_figures_and_stores_the_rows(tmp_path):
    home = tmp_path / "home"
    args = ["--meters", str(METERS), "--seconds", "2", "--warmup", "0.5", "--sales", str(SALES)]
    args += ["--event-every", "2", "--home", str(home)]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "headend.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    for figure in FIGURES:
        assert re.search(figure, done.stdout), (figure, done.stdout)
    station = Station(str(home))
    try:
        assert _count(station, db.meter_links, db.meter_links.c.online.is_(True)) == METERS
        assert _count(station, db.readings) >= METERS  # one per meter per quarter hour at least
        assert _count(station, db.meter_events) >= METERS  # an event every 2 states
        accepted = db.deliveries.c.status == "accepted"
        assert _count(station, db.deliveries, accepted) == SALES
        # the head-end holds every event it stored contiguously: its acks covered them all
        acked = db.meter_links.c.acked_seq
        assert station.read(lambda c: c.execute(select(func.sum(acked))).scalar_one()) == _count(
            station, db.meter_events
        )
    finally:
        station.close()
