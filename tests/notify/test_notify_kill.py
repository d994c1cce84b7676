"""The dispatcher killed (SIGKILL, a real separate process) at random moments and at each step
of its protocol, 104 times: no message is sent twice, none is lost (each ends sent, or parked for
a person when it may have gone out), and no delivery is left `sending` or `pending`.

The runs are processes forked from this already-imported test process (an interpreter that
imports the CLI takes seconds on the shared 2-core VM); a few more runs start the real
`prepay notify run --once` with a crash point, so the command's own path is killed too."""

import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time

from host_tools.notify import events, settings
from host_tools.notify.dispatcher import CRASH_ENV, Dispatcher, list_deliveries
from host_tools.vending import db, registry
from host_tools.vending.station import Station
from tests.vending.vending_setup import CURRENCY_METER, KWH_METER, make_station

POINTS = ("", "fanned", "claimed", "sent", "marked")
FORKED_RUNS = 100
CLI_RUNS = 4


def _child(home, crash_at):
    if crash_at:
        os.environ[CRASH_ENV] = crash_at
    else:
        os.environ.pop(CRASH_ENV, None)
    station = Station(home)
    Dispatcher(station).run_once()
    os._exit(0)


def _queue(station, seq):
    """Two events (one per meter): with SMS and the file channel, four deliveries."""

    def work(conn):
        for meter in (KWH_METER, CURRENCY_METER):
            event = {"seq": seq, "kind": "credit_low", "credit": 100 + seq, "used_14d": 1400,
                     "at": "2026-03-10T12:00:00+00:00"}  # fmt: skip
            assert events.on_meter_event(conn, meter, event)

    station.write(work)


def test_killed_dispatchers_send_nothing_twice_lose_nothing_leave_nothing_stuck(
    sms_gateway, tmp_path, fast_kdf, station_env
):
    # SQLite only: the protocol's statements are the same on PostgreSQL (tests/notify runs them
    # there), and a kill is about the process, not the database.
    station = make_station(tmp_path / "home")
    sent_file = tmp_path / "sent.jsonl"

    def setup(conn):
        settings.store(conn, "sms_url", sms_gateway.url)
        settings.store(conn, "file_path", str(sent_file))
        settings.store(conn, "quiet_start", "00:00")  # start == end: no quiet hours
        settings.store(conn, "quiet_end", "00:00")
        for meter in (KWH_METER, CURRENCY_METER):
            registry.set_contact(conn, meter, None, "+4917000000", "en", False, True)

    station.write(setup)
    rng = random.Random(int(os.environ.get("PREPAY_KILL_SEED", "15")))
    fork = multiprocessing.get_context("fork")
    killed = 0
    for run in range(FORKED_RUNS):
        _queue(station, run)
        point = POINTS[run % len(POINTS)]
        child = fork.Process(target=_child, args=(station.home, point))
        child.start()
        if not point:  # a random moment instead of a protocol step
            time.sleep(rng.uniform(0, 0.25))
            os.kill(child.pid, signal.SIGKILL)
        child.join(60)
        assert child.exitcode is not None, "a dispatcher hung"
        killed += child.exitcode == -signal.SIGKILL
    env = dict(os.environ, PREPAY_HOME=str(station.home))
    for run in range(CLI_RUNS):
        _queue(station, FORKED_RUNS + run)
        cmd = [sys.executable, "-m", "host_tools.cli", "notify", "run", "--once"]
        done = subprocess.run(
            cmd, env=dict(env, **{CRASH_ENV: POINTS[1 + run]}), capture_output=True, timeout=120
        )
        assert done.returncode == -signal.SIGKILL, done.stderr
        killed += 1
    # The next dispatcher (not killed) finishes: parks what was in flight, sends the rest.
    Dispatcher(station).run_once()

    rows = station.read(lambda conn: list_deliveries(conn, limit=100_000))
    outbox = station.read(lambda conn: conn.execute(db.notify_outbox.select()).all())
    runs = FORKED_RUNS + CLI_RUNS
    assert len(outbox) == 2 * runs and all(o.fanned_at for o in outbox)
    assert len(rows) == 4 * runs  # none lost: every row became its two deliveries
    received = [int(s["id"]) for s in sms_gateway.received]
    received += [json.loads(line)["id"] for line in sent_file.read_text().splitlines()]
    assert len(received) == len(set(received)), "a message was sent twice"
    states = {}
    for row in rows:
        states[row["state"]] = states.get(row["state"], 0) + 1
        assert row["state"] in ("sent", "parked"), row  # nothing stuck
        if row["state"] == "sent":
            assert row["id"] in received, row  # marked sent: it went out
        else:
            assert row["last_error"].startswith("uncertain"), row  # parked only if in doubt
    print(f"{runs} runs, {killed} killed; deliveries {states}; received {len(received)}")
    station.close()
    assert killed >= runs * 0.6 and states.get("parked", 0) > 0 and states.get("sent", 0) > 0
