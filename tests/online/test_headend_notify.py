"""`prepay headend` sends customer messages itself (the `prepay notify run` dispatcher in a
thread), `--no-notify` (`serve(notify=False)`) turns that off, and a head-end and a separate
`prepay notify run` on the same database send every message once between them; SIGTERM stops
the head-end cleanly, with no message left `sending` (nothing parked for a person).

Real processes (the CLI), the real Mosquitto and an HTTP SMS gateway the test runs."""

import os
import signal
import subprocess
import sys
import threading
import time

from sqlalchemy import select

from host_tools.headend.service import Headend, serve
from host_tools.notify import events, settings
from host_tools.notify.dispatcher import Dispatcher
from host_tools.vending import db, registry
from tests.notify.conftest import SmsGateway
from tests.support.mosquitto import ScratchBroker
from tests.vending.vending_setup import CURRENCY_METER, KWH_METER, make_station

MESSAGES = 30  # two meters x 15 events, one SMS each


def _queue(station, first, count):
    def work(conn):
        for seq in range(first, first + count):
            for meter in (KWH_METER, CURRENCY_METER):
                event = {"seq": seq, "kind": "credit_low", "credit": 100 + seq,
                         "at": "2026-03-10T12:00:00+00:00"}  # fmt: skip
                assert events.on_meter_event(conn, meter, event)

    station.write(work)


def _deliveries(station):
    d = db.notify_deliveries
    return station.read(lambda c: c.execute(select(d).order_by(d.c.id)).all())


def _wait(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"not {what} within {timeout} s")


def _start(env, log, *args):
    cmd = [sys.executable, "-m", "host_tools.cli", *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))


def _stop(proc, log):
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(30)
    assert code == 0, log.read_text()


def test_headend_and_notify_run_send_each_message_once_and_stop_cleanly(
    tmp_path, fast_kdf, station_env
):
    station = make_station(tmp_path / "home")
    gateway = SmsGateway()
    gateway.delay = 0.1  # sending takes a while: both dispatchers get their share

    def setup(conn):
        settings.store(conn, "sms_url", gateway.url)
        settings.store(conn, "quiet_start", "00:00")  # equal: no quiet hours
        settings.store(conn, "quiet_end", "00:00")
        for meter in (KWH_METER, CURRENCY_METER):
            registry.set_contact(conn, meter, None, "+4917000000", "en", False, True)

    station.write(setup)
    _queue(station, 1, 1)
    # --no-notify: the head-end's loop runs, the message waits for a dispatcher.
    quiet = Headend(station, "mqtt://127.0.0.1:9", "headend", "unused")  # never connected
    stop = threading.Event()
    worker = threading.Thread(target=serve, args=(quiet, stop), kwargs={"notify": False})
    worker.start()
    time.sleep(1.0)  # five of its loops
    stop.set()
    worker.join(10)
    assert not worker.is_alive() and _deliveries(station) == []  # not even fanned out
    head_log, notify_log = tmp_path / "headend.log", tmp_path / "notify.log"
    try:
        with ScratchBroker() as broker:
            env = dict(
                os.environ,
                PREPAY_HOME=str(station.home),
                PREPAY_HEADEND_PASSWORD=broker.headend_password,
            )
            notify = _start(env, notify_log, "notify", "run", "--poll", "0.2")
            # The waiting message goes out: `prepay notify run` is up (nothing else sends).
            _wait(lambda: [d.state for d in _deliveries(station)] == ["sent"] * 2, 30, "sent")
            headend = _start(env, head_log, "headend", "--broker", broker.url)
            _wait(lambda: b"sending customer messages" in head_log.read_bytes(), 30, "up")
            _queue(station, 2, MESSAGES // 2)  # ~3 s of sending for one: both take some
            owners = {f":{notify.pid}": "notify run", f":{headend.pid}": "headend"}

            def both_sent_some():
                rows = _deliveries(station)
                seen = {d.claimed_by[d.claimed_by.rindex(":") :] for d in rows if d.claimed_by}
                return seen == set(owners)

            _wait(both_sent_some, 60, "sent by both")
            _stop(headend, head_log)  # while messages are still going out
            _stop(notify, notify_log)
        assert b"prepay headend stopped" in head_log.read_bytes()
        rows = _deliveries(station)
        # A clean stop finishes the delivery in hand: nothing left `sending`, nothing parked.
        assert {d.state for d in rows} <= {"sent", "pending"}, [d.state for d in rows]
        gateway.delay = 0
        Dispatcher(station).run_once()  # the rest, by a dispatcher in this process
    finally:
        gateway.close()
    rows = _deliveries(station)
    assert len(rows) == 2 + MESSAGES and {d.state for d in rows} == {"sent"}
    received = [int(r["id"]) for r in gateway.received]
    assert sorted(received) == [d.id for d in rows], "a message sent twice, or lost"
    by = {}
    for d in rows:
        owner = owners.get(d.claimed_by[d.claimed_by.rindex(":") :], "this test")
        by[owner] = by.get(owner, 0) + 1
    print(f"sent by {by}")
    station.close()
