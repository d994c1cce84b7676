"""Vends per second: SQLite (durable: WAL + synchronous=FULL, one fsync per sale) and PostgreSQL
(throw-away local cluster, fsync on, synchronous_commit on) with 16 client processes.

Every vend is the full path: validation, debt and tariff, TID allocation, FF1 token, ledger
append with hash chain, commit. Targets: >= 300/s (SQLite), >= 1,000/s (PostgreSQL, 16 clients).
Run: .venv/bin/python bench/vend.py [--sqlite-vends N] [--pg-vends-per-client N]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from host_tools.vending import registry, vend  # noqa: E402
from host_tools.vending.station import Station, init_station  # noqa: E402
from tests.support.loadgen import run_clients  # noqa: E402
from tests.support.scratch_pg import ScratchPostgres, ScratchUnavailable  # noqa: E402
from token_spec import make_meter_number  # noqa: E402

METERS = [make_meter_number(f"{7_000_000_000 + i:010d}") for i in range(64)]


def make_station(home, db_url=None):
    init_station(home, db_url)
    station = Station(home)
    stamp = station.stamp()

    def setup(conn):
        blocks = registry.tariff_blocks("block", None, "50:1.00,200:1.50,*:2.00")
        registry.add_tariff(conn, "bench", "block", blocks, 0, 0, None, stamp)
        for number in METERS:
            registry.add_meter(conn, number, "kwh", 1000, 1000, "bench", "", "", False, stamp)

    station.write(setup)
    return station


def bench_sqlite(vends):
    with tempfile.TemporaryDirectory() as tmp:
        station = make_station(Path(tmp) / "home")
        start = time.perf_counter()
        for i in range(vends):
            vend.sell(station, METERS[i % len(METERS)], "12.34", f"s{i}", "cash", "bench")
        elapsed = time.perf_counter() - start
        station.close()
    return vends / elapsed


def _wal_syncs(url):
    """(WAL syncs, seconds spent in them) so far (pg_stat_wal, with track_wal_io_timing)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        syncs, ms = conn.execute("SELECT wal_sync, wal_sync_time FROM pg_stat_wal").fetchone()
    return syncs, ms / 1000


def bench_postgres(clients, per_client):
    # track_wal_io_timing only times the WAL syncs (a clock read each) for the figure below.
    settings = {"track_wal_io_timing": "on"}
    with tempfile.TemporaryDirectory() as tmp, ScratchPostgres(settings=settings) as pg:
        os.chmod(tmp, 0o755)
        home = Path(tmp) / "home"
        make_station(home, pg.url).close()
        plans = [
            [(METERS[(c * 7 + i) % len(METERS)], "12.34", f"c{c}-{i}") for i in range(per_client)]
            for c in range(clients)
        ]
        server_before, syncs_before = pg.cpu_seconds(), _wal_syncs(pg.url)
        wall, results, client_cpu = run_clients(home, plans)
        time.sleep(0.2)  # let the backends of the finished clients exit and be reaped
        server_cpu = pg.cpu_seconds() - server_before
        syncs, sync_time = (a - b for a, b in zip(_wal_syncs(pg.url), syncs_before, strict=True))
    errors = [r for r in results if r[6] is not None]
    if errors:
        raise SystemExit(f"{len(errors)} vends failed, first: {errors[0][6]}")
    n = len(results)
    return n / wall, client_cpu / n, server_cpu / n, syncs / n, sync_time / max(syncs, 1)


def _load():
    return os.getloadavg()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite-vends", type=int, default=1500)
    parser.add_argument("--pg-clients", type=int, default=16)
    parser.add_argument("--pg-vends-per-client", type=int, default=250)
    args = parser.parse_args()
    os.environ.setdefault("PREPAY_PASSPHRASE", "bench-only passphrase")
    print(f"load average before: {_load():.2f} on {os.cpu_count()} CPUs (other jobs slow this)")
    rate = bench_sqlite(args.sqlite_vends)
    label = "sqlite (WAL, synchronous=FULL), 1 client:"
    print(f"{label:<40} {rate:8.0f} vends/s  (target >= 300)")
    try:
        figures = bench_postgres(args.pg_clients, args.pg_vends_per_client)
    except ScratchUnavailable as error:
        print(f"postgresql: not measured ({error})")
        return
    rate, client_cpu, server_cpu, syncs, sync_time = figures
    label = f"postgresql (fsync on), {args.pg_clients} clients:"
    print(f"{label:<40} {rate:8.0f} vends/s  (target >= 1000)")
    cpu = client_cpu + server_cpu
    print(
        f"CPU per vend: clients {client_cpu * 1e6:.0f} us + server {server_cpu * 1e6:.0f} us"
        f" = {cpu * 1e6:.0f} us -> at most {os.cpu_count() / cpu:.0f} vends/s on"
        f" {os.cpu_count()} CPUs"
    )
    # The hash chain's lock is held until the commit is on disk, so the WAL sync is inside the
    # part of a vend that no two vends can do at once: 1 / (its time + the seal) bounds the rate.
    print(
        f"WAL syncs per vend: {syncs:.2f}, {sync_time * 1e6:.0f} us each"
        f" -> at most {1 / sync_time:.0f} vends/s; load average after: {_load():.2f}"
    )


if __name__ == "__main__":
    main()
