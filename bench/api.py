"""Vends per second through the HTTP API (POST /api/v1/vends, 16 concurrent clients, one
`prepay serve` process) beside the direct figure (no HTTP) of bench/vend.py in the same run, on
SQLite and on PostgreSQL. Target: HTTP keeps at least half of the direct rate.

Clients are separate processes using http.client with a kept-alive connection, so the figure is
the station's and not a Python HTTP client's; on a 2-core machine they still share the CPUs with
the server. Run: .venv/bin/python bench/api.py [--vends-per-client N]
"""

import argparse
import http.client
import importlib.util
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from host_tools.vending import apikeys  # noqa: E402
from host_tools.vending.home import read_config, write_config  # noqa: E402
from host_tools.vending.scratch_pg import ScratchPostgres, ScratchUnavailable  # noqa: E402
from host_tools.vending.station import Station  # noqa: E402

CLIENTS = 16


def _bench_vend():
    """bench/vend.py as a module (its station set-up and direct figures)."""
    spec = importlib.util.spec_from_file_location("bench_vend", ROOT / "bench" / "vend.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(home):
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "host_tools.cli",
            "serve",
            "--home",
            str(home),
            "--port",
            str(port),
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, port
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("prepay serve did not start")


def _client(port, key, plan, barrier, out):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    barrier.wait()
    start, failed = time.perf_counter(), 0
    for meter, amount, ref in plan:
        body = json.dumps({"meter": meter, "amount": amount, "ref": ref, "channel": "mobile"})
        conn.request("POST", "/api/v1/vends", body, headers)
        response = conn.getresponse()
        response.read()
        failed += response.status != 201
    out.put((start, time.perf_counter(), failed))


def bench_http(home, meters, per_client):
    station = Station(home)
    stamp = station.stamp()
    key = station.write(lambda conn: apikeys.add_key(conn, "mobile", "bench", stamp))[0]
    station.close()
    config = read_config(home)
    config["api_rate_per_minute"] = 10_000_000  # the bench's one key must not be throttled
    write_config(home, config)
    proc, port = _serve(home)
    try:
        ctx = multiprocessing.get_context("fork")
        barrier, out = ctx.Barrier(CLIENTS), ctx.Queue()
        plans = [
            [(meters[(c * 7 + i) % len(meters)], "12.34", f"h{c}-{i}") for i in range(per_client)]
            for c in range(CLIENTS)
        ]
        procs = [ctx.Process(target=_client, args=(port, key, p, barrier, out)) for p in plans]
        for p in procs:
            p.start()
        got = [out.get(timeout=600) for _ in procs]
        for p in procs:
            p.join()
    finally:
        proc.terminate()
        proc.wait(10)
    failed = sum(g[2] for g in got)
    if failed:
        raise SystemExit(f"{failed} HTTP vends failed")
    wall = max(g[1] for g in got) - min(g[0] for g in got)
    return CLIENTS * per_client / wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vends-per-client", type=int, default=60)
    args = parser.parse_args()
    os.environ.setdefault("PREPAY_PASSPHRASE", "bench-only passphrase")
    os.environ.setdefault("PREPAY_USER_PASSWORD", "bench-only password")
    bench = _bench_vend()
    n = args.vends_per_client
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    direct = bench.bench_sqlite(CLIENTS * n)
    with tempfile.TemporaryDirectory() as tmp:
        bench.make_station(Path(tmp) / "home").close()
        http_rate = bench_http(Path(tmp) / "home", bench.METERS, n)
    print(f"{'sqlite direct, 1 client:':<36} {direct:8.0f} vends/s")
    print(f"{f'sqlite HTTP, {CLIENTS} clients:':<36} {http_rate:8.0f} vends/s"
          f"  ({http_rate / direct:.0%} of direct; target >= 50%)")  # fmt: skip
    try:
        direct = bench.bench_postgres(CLIENTS, n)[0]
        with tempfile.TemporaryDirectory() as tmp, ScratchPostgres() as pg:
            os.chmod(tmp, 0o755)
            bench.make_station(Path(tmp) / "home", pg.url).close()
            http_rate = bench_http(Path(tmp) / "home", bench.METERS, n)
    except ScratchUnavailable as error:
        print(f"postgresql: not measured ({error})")
        return
    print(f"{f'postgresql direct, {CLIENTS} clients:':<36} {direct:8.0f} vends/s")
    print(f"{f'postgresql HTTP, {CLIENTS} clients:':<36} {http_rate:8.0f} vends/s"
          f"  ({http_rate / direct:.0%} of direct; target >= 50%)")  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
