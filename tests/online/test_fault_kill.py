"""The head-end and the dispatcher killed (SIGKILL) at random moments, 100 times in all, while
meters publish events and tokens are sold: afterwards no customer message went out twice, none
is missing, no delivery is left open, every event is stored once and in order, books balance.

The rig, kept for the whole run: a real Mosquitto, a scratch SQLite station, four lightweight
CPython meters (tests/support/mqtt_meter.py) speaking the topic contract, a real SMTP server
(aiosmtpd) and the file channel receiving the messages. The services are the real verbs,
`prepay headend` and `prepay notify run`, each a separate process forked from a forkserver that
imported the CLI once (tests/support/cli_procs.py: cheap restarts), killed and started again in
a loop with short random delays. Then both start once more through a real interpreter
(`python -m host_tools.cli ...`) and everything settles. Messages a killed dispatcher may have
sent are parked for a person (docs/notify.md, at most once); the test does that person's job
— checks the receiving side, `retry` for the ones that never arrived — and then requires every
message received exactly once per channel.

When `prepay headend` runs the dispatcher itself, ROLES becomes the one `headend` entry.
Seed: PREPAY_KILL_SEED (printed; it fixes the choices, not the machine's timing); kills:
PREPAY_KILL_RUNS (default 100); database: PREPAY_KILL_DB=sqlite (default: the suite's budget
has room for one) or postgres.
"""

import json
import os
import random
import re
import signal
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from host_tools.headend.service import CRASH_ENV as HEADEND_CRASH
from host_tools.notify import settings
from host_tools.notify.dispatcher import CRASH_ENV as NOTIFY_CRASH
from host_tools.notify.dispatcher import retry
from host_tools.vending import audit, db, registry, vend
from tests.notify.conftest import fast_kdf, pg_server, smtp_server, station_env  # noqa: F401
from tests.support.cli_procs import CliProc, spawn_real
from tests.support.mosquitto import ScratchBroker
from tests.support.mqtt_meter import SpeakerMeter
from tests.vending.conftest import new_pg_database
from tests.vending.vending_setup import CURRENCY_METER, METERS, make_station

SEED = int(os.environ.get("PREPAY_KILL_SEED", "15"))
KILLS = int(os.environ.get("PREPAY_KILL_RUNS", "100"))
DATABASE = os.environ.get("PREPAY_KILL_DB", "sqlite")  # or "postgres" (the scratch cluster)
AT_A_POINT = 0.3  # share of runs started with a crash point (they SIGKILL themselves there)
CHANNELS = ("email", "file")
CRITICAL = {CURRENCY_METER}  # registered critical: gets no supply-cut message

# What each meter's journal produces, over and over: (event, a, b, the message it announces).
CYCLE = (
    ("zone", 0, 1, "credit_low"),  # normal -> low
    ("relay", 0, 16, "supply_cut"),  # opened: no credit
    ("tamper", 1, 0, None),
    ("relay", 1, 0, "supply_restored"),  # closed after a cut for credit
    ("emergency", 1, 500, "emergency_credit"),
    ("zone", 1, 0, None),
    ("relay", 0, 3, None),  # opened for another reason (a relay test)
    ("relay", 1, 0, None),  # ...closed again: no restore message
)


def roles(broker):
    """The service processes killed by the test: name -> (`prepay` argv, the crash points it
    can be started with: [(environment variable, point)])."""
    return {
        "headend": (
            ["headend", "--broker", broker.url],
            [(HEADEND_CRASH, p) for p in ("stored", "pushed", "closed")],
        ),
        "dispatcher": (
            ["notify", "run", "--poll", "0.2"],
            [(NOTIFY_CRASH, p) for p in ("fanned", "claimed", "sent", "marked")],
        ),
    }


def wait_settled(station, meters, timeout, what):
    end = time.monotonic() + timeout
    while True:
        left = _unsettled(station, meters)
        if not left:
            return
        if time.monotonic() > end:
            raise AssertionError(f"not {what} within {timeout} s: {left}")
        time.sleep(0.1)


class World(threading.Thread):
    """Meters ticking, events committed and tokens sold while the services are killed."""

    def __init__(self, station, meters, rng):
        super().__init__(daemon=True)
        self.station, self.meters, self.rng = station, meters, rng
        self.producing = True
        self.stop = False
        self.sold = {}  # token digits -> meter
        self.errors = []

    def run(self):
        step = 0
        while not self.stop:
            step += 1
            try:
                if self.producing:
                    self._produce(step)
                for meter in self.meters.values():
                    meter.tick()
            except Exception as error:  # noqa: BLE001 - reported by the test
                self.errors.append(repr(error))
            time.sleep(0.05)

    def _produce(self, step):
        for meter in self.meters.values():
            if self.rng.random() < 0.12:
                name, a, b, _ = CYCLE[len(meter.events) % len(CYCLE)]
                meter.add_event(name, a, b)
        if step % 4 == 0:
            number = self.rng.choice(sorted(self.meters))
            sale = vend.sell(self.station, number, "2", f"K-{step}", "cash", "clerk")
            self.sold[sale["token"]] = number
            if self.rng.random() < 0.2:  # typed in before the head-end delivers it
                self.meters[number].keypad(sale["token"])


def _expected_keys(meters):
    keys = set()
    for number, meter in meters.items():
        for event in meter.events:
            kind = CYCLE[(event["seq"] - 1) % len(CYCLE)][3]
            if kind and not (kind == "supply_cut" and number in CRITICAL):
                keys.add(f"event:{number}:{event['seq']}")
    return keys


def _received(smtp, sent_file):
    """delivery id -> times received, over the SMTP server and the file."""
    counts = {}
    ids = [int(re.match(r"<prepay-(\d+)@", m["message_id"]).group(1)) for m in smtp.messages]
    if os.path.exists(sent_file):
        with open(sent_file) as f:
            ids += [json.loads(line)["id"] for line in f]
    for ident in ids:
        counts[ident] = counts.get(ident, 0) + 1
    return counts


def _notify_rows(station):
    d, o = db.notify_deliveries, db.notify_outbox
    query = select(d.c.id, d.c.channel, d.c.state, d.c.last_error, o.c.dedupe_key).join(
        o, o.c.id == d.c.outbox_id
    )
    return station.read(lambda c: c.execute(query).all())


def _all(station, table):
    return station.read(lambda c: c.execute(select(table)).all())


def _unsettled(station, meters):
    """What is still open ("" when nothing): events, deliveries, outbox rows, messages."""
    events = {n: (m.cursor, len(m.events)) for n, m in meters.items() if m.cursor < len(m.events)}
    if events:
        return f"events not acked (cursor, committed): {events}"
    open_ = [
        r.status for r in _all(station, db.deliveries) if r.status not in ("accepted", "done")
    ]
    if open_:
        return f"token deliveries open: {open_}"
    if any(o.fanned_at is None for o in _all(station, db.notify_outbox)):
        return "outbox rows not fanned out"
    waiting = [r.state for r in _notify_rows(station) if r.state not in ("sent", "parked")]
    return f"messages waiting: {waiting}" if waiting else ""


@pytest.mark.slow
def test_killing_headend_and_dispatcher_loses_nothing_and_repeats_nothing(
    tmp_path,
    smtp_server,  # noqa: F811 - the fixture
    fast_kdf,  # noqa: F811
    station_env,  # noqa: F811
    request,
):
    started = time.monotonic()
    print(f"seed {SEED} (PREPAY_KILL_SEED), {KILLS} kills, on {DATABASE} (PREPAY_KILL_DB)")
    rng = random.Random(SEED)
    home = tmp_path / "home"
    assert DATABASE in ("sqlite", "postgres"), DATABASE
    url = None
    if DATABASE == "postgres":
        url = new_pg_database(request.getfixturevalue("pg_server"))
    station = make_station(home, url)
    sent_file = str(tmp_path / "sent.jsonl")

    def setup(conn):
        settings.store(conn, "smtp_host", smtp_server.host)
        settings.store(conn, "smtp_port", str(smtp_server.port))
        settings.store(conn, "file_path", sent_file)
        for number in METERS:
            registry.set_contact(conn, number, f"m{number}@example.org", None, "en", True, False)

    station.write(setup)
    passwords = {number: f"pw-{number}" for number in METERS}
    with ScratchBroker(meters=passwords) as broker:
        meters = {n: SpeakerMeter(n, broker, pw, 2.0, 3.0) for n, pw in passwords.items()}
        env = dict(
            os.environ, PREPAY_HOME=str(home), PREPAY_HEADEND_PASSWORD=broker.headend_password
        )
        procs, points = [], {}
        for name, (argv, crash_points) in roles(broker).items():
            procs.append(CliProc(name, argv, env, tmp_path))
            points[name] = crash_points
        world = World(station, meters, rng)
        real = []
        try:
            for meter in meters.values():
                assert meter.connected.wait(10), "a meter could not connect"
            for proc in procs:
                proc.start()
            world.start()
            for _ in range(KILLS):
                time.sleep(rng.uniform(0.02, 0.5))
                proc = rng.choice(procs)
                code = proc.kill(grace=1.0)
                assert code == -signal.SIGKILL, f"{proc.name} ended by itself ({code}):\n" + (
                    proc.log_tail()
                )
                if rng.random() < AT_A_POINT:
                    variable, point = rng.choice(points[proc.name])
                    proc.start(**{variable: point})
                else:
                    proc.start()
            killed = time.monotonic()
            world.producing = False
            for proc in procs:
                proc.kill()
            # The last start goes through a real interpreter: the command's own start-up too.
            real = [spawn_real(p.argv, env, p.log_path) for p in procs]
            wait_settled(station, meters, 90, "settled after the kills")
            # The person's job (docs/notify.md): a parked message that never arrived is retried.
            received = _received(smtp_server, sent_file)
            parked = [r for r in _notify_rows(station) if r.state == "parked"]
            lost = [r.id for r in parked if r.id not in received]
            now = datetime.now(UTC)
            station.write(lambda c: [retry(c, ident, now) for ident in lost])
            wait_settled(station, meters, 60, "retried messages sent")
            for proc in real:
                proc.send_signal(signal.SIGTERM)
            assert [proc.wait(30) for proc in real] == [0] * len(real)  # stopped cleanly
        finally:
            world.stop = True
            for proc in real:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            for proc in procs:
                proc.stop()
            for meter in meters.values():
                meter.close()
    settled = time.monotonic()
    assert not world.errors, world.errors[:3]

    # Every event stored once, in order, as the meter committed it; the cursor at the end.
    stored = {}
    for row in sorted(_all(station, db.meter_events), key=lambda r: (r.meter, r.seq)):
        stored.setdefault(row.meter, []).append(
            {"event": row.kind, "seq": row.seq, "time": row.time, "a": row.a, "b": row.b}
        )
    links = {row.meter: row.acked_seq for row in _all(station, db.meter_links)}
    for number, meter in meters.items():
        assert stored.get(number, []) == meter.events, number
        assert links[number] == len(meter.events)
    # Every sold token delivered and closed; each credited by its meter once, nothing else.
    deliveries = _all(station, db.deliveries)
    assert sorted(r.digits for r in deliveries) == sorted(world.sold)
    assert all(r.status in ("accepted", "done") for r in deliveries)
    for number, meter in meters.items():
        assert set(meter.applied) == {t for t, m in world.sold.items() if m == number}
    # Every message: the ones the sales and events must make, each received once per channel.
    outbox = _all(station, db.notify_outbox)
    expected = _expected_keys(meters) | {f"topup:{r.txn_id}" for r in deliveries}
    made = [o.dedupe_key for o in outbox]
    assert len(made) == len(set(made))
    assert set(made) == expected, (sorted(expected - set(made)), sorted(set(made) - expected))
    rows = _notify_rows(station)
    received = _received(smtp_server, sent_file)
    per_key = {}
    for row in rows:
        per_key.setdefault(row.dedupe_key, []).append(row.channel)
        assert received.get(row.id, 0) == 1, (row, received.get(row.id, 0))
        assert row.state == "sent" or row.last_error.startswith("uncertain"), row
    assert all(sorted(chans) == sorted(CHANNELS) for chans in per_key.values())
    assert set(received) <= {r.id for r in rows}  # nothing received that was never queued
    books = audit.verify(station)
    assert books["ok"], books["problems"]
    station.close()

    kills = sum(p.kills for p in procs)
    events = sum(len(m.events) for m in meters.values())
    states = {}
    for row in rows:
        states[row.state] = states.get(row.state, 0) + 1
    each = ", ".join(f"{p.name} {p.kills}, {p.at_point} at a point" for p in procs)
    print(
        f"{kills} kills ({each}); {events} events, "
        f"{len(deliveries)} sales, {len(outbox)} messages, {len(rows)} deliveries {states}, "
        f"{len(parked)} parked after the kills of which {len(lost)} never arrived (retried); "
        f"kill loop {killed - started:.1f} s, settled {settled - killed:.1f} s"
    )
    assert kills >= KILLS
