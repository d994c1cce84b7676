"""The head-end under 1,000 online meters: messages/s handled, delivery latency, rows per day.

Three processes on a real Mosquitto (tests/support/mosquitto.py) and a scratch station:
- the real head-end (host_tools/headend/service.py, `Headend` as `prepay headend` runs it) on
  a SQLite station (WAL, synchronous=FULL), or PostgreSQL with --postgres;
- the meters (bench/_meter_swarm.py): CPython protocol speakers, one paho-mqtt client each,
  publishing state and events as firmware/net/link.py does;
- this one: registers the meters, sells tokens for a sample of them during the run and
  measures sale committed -> the meter's `accepted` stored (polling the deliveries every 10 ms).

Time is compressed: a meter publishes its state every --state-every s of real time (default
0.45: 1,000 meters offer ~2,200 states/s), each one 15 s of meter time later, and a journal
event every --event-every states. At the firmware's real 15 s, 1,000 meters send 67 states/s:
the figure here is the head-end's capacity. "Backlog" is messages published by the meters and
not yet handled by the head-end (the broker's queue, paho's and the head-end's inbox), sampled
at the start and end of the measured window, then drained: no growth = it kept up.

Bench broker: the meters log in with the head-end's broker account (the bench makes no 1,000
broker users; the ACL confining each meter is tests/online/test_broker_acl.py's), but each has
its own client id, session, last will and topics. Target: >= 2,000 messages/s, no backlog growth.
Run: .venv/bin/python bench/headend.py [--meters N] [--seconds S] [--postgres] [--home DIR]
"""

import argparse
import json
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _meter_swarm import METER_SECONDS_PER_STATE, ROOT, run_swarm  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from host_tools.vending import db, registry, vend  # noqa: E402
from host_tools.vending.station import Station, init_station  # noqa: E402
from tests.support.mosquitto import ScratchBroker  # noqa: E402
from token_spec import make_meter_number  # noqa: E402

TARGET = 2000  # messages/s
SLOTS_PER_DAY = 86400 // 900
POLL_S = 0.01


def meter_numbers(count):
    return [make_meter_number(f"{8_000_000_000 + i:010d}") for i in range(count)]


def make_station(home, numbers, db_url=None):
    init_station(str(home), db_url)
    station = Station(str(home))
    stamp = station.stamp()

    def setup(conn):
        blocks = registry.tariff_blocks("flat", "1.00", None)
        registry.add_tariff(conn, "bench", "flat", blocks, 0, 0, None, stamp)
        for number in numbers:
            registry.add_meter(conn, number, "kwh", 1000, 1000, "bench", "", "", False, stamp)

    station.write(setup)
    return station


# ---- the head-end's process ------------------------------------------------------------------
def run_headend(home, broker, counters, ready, stop):
    """The real head-end, its worker thread as in `prepay headend`; exports its counters."""
    from host_tools.headend.service import Headend

    url, user, password = broker
    station = Station(home)
    headend = Headend(station, url, user, password)
    halt = threading.Event()
    worker = threading.Thread(target=headend.run, args=(halt,), daemon=True)
    headend.start()
    worker.start()
    try:
        while not stop.wait(0.02):
            counters["handled"].value = headend.stats["messages"]
            counters["inbox"].value = headend.inbox.qsize()
            counters["cpu"].value = time.process_time()
            counters["cpu_worker"].value = _thread_cpu(worker)
            if headend.connected.is_set():
                ready.set()
    finally:
        halt.set()
        worker.join(60)
        headend.close()
        station.close()


def _thread_cpu(thread):
    """CPU seconds one thread of this process used so far (Linux /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/self/task/{thread.native_id}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


# ---- sales and their delivery latency --------------------------------------------------------
class Sales(threading.Thread):
    """Sells `count` tokens evenly over `seconds` to random meters (a cashier's sale: its time,
    lock wait included, in `sell_times`); a second thread watches each delivery until the
    meter's result is stored. latencies: seconds from the sale's commit to `accepted`."""

    def __init__(self, station, numbers, count, seconds):
        super().__init__(daemon=True)
        self.station, self.numbers = station, numbers
        self.sell_times = []
        self.selling = True
        self.count, self.seconds = count, seconds
        self.waiting = {}  # token digits -> commit time
        self.sold = {}  # token digits -> commit time, every sale
        self.accepted = {}  # token digits -> when its `accepted` was seen stored
        self.latencies, self.other = [], []
        self.stop = threading.Event()

    def run(self):
        watch = threading.Thread(target=self._watch, daemon=True)
        watch.start()
        rng = random.Random(15)
        start = time.monotonic()
        try:
            for n in range(self.count):
                time.sleep(max(0.0, start + n * self.seconds / self.count - time.monotonic()))
                if self.stop.is_set():
                    break
                meter = rng.choice(self.numbers)
                began = time.monotonic()
                r = vend.sell(self.station, meter, "5", f"bench-{n}", "cash", "bench")
                self.waiting[r["token"]] = self.sold[r["token"]] = done = time.monotonic()
                self.sell_times.append(done - began)
        finally:
            self.selling = False
        watch.join()

    def _watch(self):
        while not self.stop.is_set() and (self.selling or self.waiting):
            self._poll()
            time.sleep(POLL_S)

    def _poll(self):
        if not self.waiting:
            return
        d = db.deliveries
        digits = list(self.waiting)  # the seller adds to it meanwhile
        rows = self.station.read(
            lambda c: c.execute(
                select(d.c.digits, d.c.status).where(
                    d.c.digits.in_(digits), d.c.status.in_(("accepted", "done"))
                )
            ).all()
        )
        now = time.monotonic()
        for digits, status in rows:
            took = now - self.waiting.pop(digits)
            (self.latencies if status == "accepted" else self.other).append(took)
            if status == "accepted":
                self.accepted[digits] = now


class Watcher:
    """Listens to every meter's cmd and result topics (QoS 0): when each token was pushed to
    its meter and when the meter answered, to split the delivery latency into its legs."""

    def __init__(self, host, port, user, password):
        import paho.mqtt.client as mqtt

        self.pushed, self.answered = {}, {}  # token digits -> first time seen
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-watcher")
        c.username_pw_set(user, password)
        c.on_connect = lambda c, *_: [c.subscribe(ROOT + "+/" + t, 0) for t in ("cmd", "result")]
        c.on_message = self._on_message
        c.connect(host, port)
        c.loop_start()
        self.client = c

    def _on_message(self, _c, _u, msg):
        now = time.monotonic()
        if b'"token"' not in msg.payload:
            return  # acks
        doc = json.loads(msg.payload)
        seen = self.pushed if msg.topic.endswith("/cmd") else self.answered
        seen.setdefault(doc.get("token"), now)

    def legs(self, sales):
        """[(sale -> pushed, pushed -> meter answered, answered -> stored)] per accepted sale."""
        out = []
        for digits, stored in sales.accepted.items():
            if digits in self.pushed and digits in self.answered:
                pushed, answered = self.pushed[digits], self.answered[digits]
                out.append((pushed - sales.sold[digits], answered - pushed, stored - answered))
        return out

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


# ---- figures ---------------------------------------------------------------------------------
def percentile(values, q):
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def db_figures(station, meters, states_per_meter):
    """Rows the run left per meter and per simulated day (meter time: 15 s per state)."""

    def count(conn, table):
        return conn.execute(select(func.count()).select_from(table)).scalar_one()

    def work(conn):
        r = db.readings
        spans = select((func.max(r.c.slot) - func.min(r.c.slot) + 1).label("n")).group_by(
            r.c.meter
        )
        slots = int(conn.execute(select(func.sum(spans.subquery().c.n))).scalar_one() or 0)
        outbox = conn.execute(
            select(func.count()).where(db.notify_outbox.c.dedupe_key.like("event:%"))
        ).scalar_one()
        return {
            "readings": count(conn, r),
            "slots": slots,
            "events": count(conn, db.meter_events),
            "outbox": outbox,
            "links": count(conn, db.meter_links),
        }

    f = station.read(work)
    days = meters * states_per_meter * METER_SECONDS_PER_STATE / 86400  # meter-days simulated
    f["days"] = days
    f["readings_per_day"] = f["readings"] / f["slots"] * SLOTS_PER_DAY if f["slots"] else 0.0
    f["events_per_day"] = f["events"] / days if days else 0.0
    f["outbox_per_day"] = f["outbox"] / days if days else 0.0
    return f


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise SystemExit(f"bench/headend.py: {what} not within {timeout:.0f} s")


def bench(args, home, db_url):
    numbers = meter_numbers(args.meters)
    t0 = time.monotonic()
    make_station(home, numbers, db_url).close()
    setup_s = time.monotonic() - t0
    ctx = multiprocessing.get_context("fork")
    hc = {k: ctx.Value("q", 0) for k in ("handled", "inbox")}
    hc.update({k: ctx.Value("d", 0.0) for k in ("cpu", "cpu_worker")})
    mc = {k: ctx.Value("q", 0) for k in ("state", "events", "result", "connected")}
    stop_h, stop_m, ready_h, ready_m, publishing = (ctx.Event() for _ in range(5))
    with ScratchBroker() as broker:
        creds = (broker.headend_user, broker.headend_password)
        headend = ctx.Process(
            target=run_headend, args=(str(home), (broker.url, *creds), hc, ready_h, stop_h)
        )
        swarm = ctx.Process(
            target=run_swarm,
            args=(
                (broker.host, broker.port, *creds),
                numbers,
                args.state_every,
                args.event_every,
                mc,
                ready_m,
                publishing,
                stop_m,
            ),
        )
        headend.start()
        drained = False
        try:
            wait_for(ready_h.is_set, 30, "the head-end connected")
            swarm.start()
            wait_for(lambda: mc["connected"].value == args.meters, 120, "every meter connected")
            connect_s = time.monotonic() - t0 - setup_s
            station = Station(str(home))
            online = db.meter_links.c.online
            wait_for(
                lambda: (
                    station.read(
                        lambda c: c.execute(
                            select(func.count()).where(online.is_(True))
                        ).scalar_one()
                    )
                    == args.meters
                ),
                60,
                "every meter online at the head-end",
            )
            publishing.set()
            time.sleep(args.warmup)

            def sample():
                published = sum(mc[k].value for k in ("state", "events", "result"))
                return time.monotonic(), published, hc["handled"].value, hc["inbox"].value

            start, cpu0, worker0 = sample(), hc["cpu"].value, hc["cpu_worker"].value
            watcher = Watcher(broker.host, broker.port, *creds)
            sales = Sales(station, numbers, args.sales, args.seconds * 0.9)
            sales.start()
            time.sleep(args.seconds)
            end, cpu1, worker1 = sample(), hc["cpu"].value, hc["cpu_worker"].value
            for name, proc in (("the meters", swarm), ("the head-end", headend)):
                if not proc.is_alive():  # its traceback is on stderr above
                    raise SystemExit(f"bench/headend.py: {name} died ({proc.exitcode})")
            publishing.clear()
            sales.join(30)
            sales.stop.set()
            watcher.close()
            drain0 = time.monotonic()
            try:
                wait_for(lambda: hc["handled"].value >= sample()[1], 60, "the backlog drained")
                drained = True
            except SystemExit:
                pass
            drain_s = time.monotonic() - drain0
            stop_m.set()
            swarm.join(30)
            # the meters' counters are final now: what the head-end never handled is lost
            published_total = sample()[1]
            states_per_meter = mc["state"].value / args.meters
            if drained:
                wait_for(lambda: hc["handled"].value >= published_total, 10, "the last ones")
        finally:
            stop_m.set()
            swarm.join(30)
            stop_h.set()
            headend.join(60)
            for proc in (swarm, headend):
                if proc.is_alive():
                    proc.kill()
        figures = db_figures(station, args.meters, states_per_meter)
        station.close()
    window = end[0] - start[0]
    handled = end[2] - start[2]
    return {
        "setup_s": setup_s,
        "connect_s": connect_s,
        "window": window,
        "offered": (end[1] - start[1]) / window,
        "handled": handled / window,
        "backlog": (start[1] - start[2], end[1] - end[2]),
        "inbox": (start[3], end[3]),
        "drained": drained,
        "drain_s": drain_s,
        "lost": published_total - hc["handled"].value,
        "cpu_per_msg": (cpu1 - cpu0) / max(handled, 1),
        "worker_per_msg": (worker1 - worker0) / max(handled, 1),
        "cpu_share": (cpu1 - cpu0) / window,
        "latencies": sorted(sales.latencies),
        "legs": watcher.legs(sales),
        "sell_times": sorted(sales.sell_times),
        "undelivered": len(sales.waiting),
        "used": len(sales.other),
        **figures,
    }


def report(args, db_name, r):
    n = args.meters
    print(f"load average before: {args.load:.2f} on {os.cpu_count()} CPUs (other jobs slow this)")
    print(
        f"{n} meters on {db_name}: state every {args.state_every:g} s (compressed: 15 s of "
        f"meter time each), an event every {args.event_every} states; window {r['window']:.1f} s"
    )
    print(
        f"setup: station with {n} meters {r['setup_s']:.1f} s, head-end and meters connected "
        f"{r['connect_s']:.1f} s"
    )
    kept_up = r["backlog"][1] <= r["backlog"][0] + 500  # the counters are read 50 ms apart
    verdict = "met" if r["handled"] >= TARGET and kept_up else "MISSED"
    print(
        f"messages/s handled: {r['handled']:8.0f}  (offered {r['offered']:.0f}/s; "
        f"target >= {TARGET}: {verdict})"
    )
    real = n / 15
    worth = r["handled"] / r["offered"] * n * 15 / args.state_every if r["offered"] else 0
    print(
        f"  at the real 15 s per meter, {n} meters send {real:.0f} states/s (+ events); "
        f"the rate handled is {worth:,.0f} meters' worth at the same mix"
    )
    print(
        f"head-end CPU per message: {r['cpu_per_msg'] * 1e6:.0f} us "
        f"(-> {1 / max(r['cpu_per_msg'], 1e-9):,.0f} msgs/s on one core), of which the "
        f"database worker {r['worker_per_msg'] * 1e6:.0f} us and the MQTT side the rest; "
        f"it got {r['cpu_share']:.2f} of a core"
    )
    print(
        f"backlog (published, not yet handled): start {r['backlog'][0]}, end {r['backlog'][1]}"
        f" messages (head-end inbox {r['inbox'][0]} -> {r['inbox'][1]}); "
        + (
            f"drained {r['drain_s']:.1f} s after publishing stopped, {r['lost']} lost"
            if r["drained"]
            else f"NOT drained within 60 s ({r['lost']} left)"
        )
    )
    lat = r["latencies"]
    if lat:
        p50, p99 = percentile(lat, 50), percentile(lat, 99)
        print(
            f"delivery latency (sale committed -> meter's accepted stored, {len(lat)} sales): "
            f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms"
            f"  ({r['undelivered']} not closed, {r['used']} closed as used)"
        )
        sells = r["sell_times"]
        print(
            f"  a cashier's sale meanwhile (vend.sell, the write-lock wait included): "
            f"p50 {percentile(sells, 50) * 1000:.0f} ms, p99 {percentile(sells, 99) * 1000:.0f}"
            f" ms, max {sells[-1] * 1000:.0f} ms"
        )
        legs = r["legs"]
        if legs:
            names = ("sale -> pushed", "pushed -> meter answered", "answered -> stored")
            parts = []
            for i, name in enumerate(names):
                leg = sorted(x[i] for x in legs)
                p50, p99 = percentile(leg, 50), percentile(leg, 99)
                parts.append(f"{name} {p50 * 1000:.0f}/{p99 * 1000:.0f}")
            print("  legs, p50/p99 ms: " + ", ".join(parts))
    else:
        print(f"delivery latency: no sale closed ({r['undelivered']} not closed)")
    total = r["readings_per_day"] + r["events_per_day"] + r["outbox_per_day"]
    print(
        f"DB rows per meter per day: {total:.0f} = {r['readings_per_day']:.1f} readings "
        f"(15-min slots) + {r['events_per_day']:.0f} events + {r['outbox_per_day']:.0f} outbox"
        f"  (5,760 states a day kept as 96 readings; 1 meter_links row per meter, updated)"
    )
    print(
        f"  stored: {r['readings']} readings over {r['slots']} meter-slots, {r['events']} events,"
        f" {r['outbox']} outbox rows, {r['links']} links; {r['days']:.2f} meter-days simulated"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=5.0, help="s before the window")
    parser.add_argument("--state-every", type=float, default=0.45, help="real s between states")
    parser.add_argument("--event-every", type=int, default=20, help="states between events")
    parser.add_argument("--sales", type=int, default=100, help="tokens sold during the window")
    parser.add_argument("--postgres", action="store_true", help="a scratch PostgreSQL station")
    parser.add_argument(
        "--home", help="keep the SQLite station here, a new folder (default: a temporary one)"
    )
    args = parser.parse_args()
    if args.meters < 1 or args.seconds <= 0 or args.state_every <= 0 or args.event_every < 1:
        parser.error("--meters, --seconds, --state-every and --event-every must be positive")
    if args.home and (args.postgres or os.path.exists(args.home)):
        parser.error("--home must be a new folder, and the SQLite station (not --postgres)")
    os.environ.setdefault("PREPAY_PASSPHRASE", "bench-only passphrase")
    args.load = os.getloadavg()[0]
    tmp = tempfile.mkdtemp(prefix="prepay-bench-headend-")
    os.chmod(tmp, 0o755)
    home = Path(args.home) if args.home else Path(tmp) / "home"
    try:
        if args.postgres:
            from tests.support.scratch_pg import ScratchPostgres

            with ScratchPostgres() as pg:
                r = bench(args, home, pg.url)
            db_name = "PostgreSQL (fsync on)"
        else:
            r = bench(args, home, None)
            db_name = "SQLite (WAL, synchronous=FULL)"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(args, db_name, r)


if __name__ == "__main__":
    main()
