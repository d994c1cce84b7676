"""`prepay demo --online` (`make demo-online`): the station tops up a simulated meter over MQTT,
with no keypad entry, and the customer is told — on built-in defaults, in about a minute.

1. A fresh station (SQLite, a temporary home unless --keep DIR), the file channel for customer
   messages (`prepay notify set file_path ...`).
2. A real Mosquitto on 127.0.0.1 (host_tools/headend/broker.py): one user per meter and an ACL
   that confines each meter to its own topics. Not installed: the demo says how to install it.
3. `prepay headend` as a utility runs it beside the station (a subprocess of the demo, stopped
   at its end); it also sends the customer messages (`prepay notify run`'s dispatcher).
4. A simulated meter, provisioned over its serial port and given its network settings
   (`prepay device net-set`); it comes online at the head-end.
5. A sale: the head-end pushes the token to the meter (delivery pending -> sent -> accepted).
6. The meter runs down at 3 kW: its low-credit and relay events travel to the head-end, which
   queues the customer's messages; a second remote top-up restores the supply.
7. The messages the dispatcher wrote to the file channel, then everything is stopped.

Shares the console helpers, the vend and the meter display of host_tools/demo.py (`Demo`).
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack

from host_tools.demo import METER, Demo, DemoError, _clear_kept, _demo_logins, _environment

MESSAGES_FILE = "messages.jsonl"  # in the station's home: the file channel's output
WAIT_ONLINE_S = 20
WAIT_DELIVERY_S = 20
WAIT_MESSAGES_S = 30
# What a run must have written to the file channel, in the order the demo causes them.
EXPECTED_KINDS = ("topup", "credit_low", "supply_cut", "topup", "supply_restored")


class OnlineDemo(Demo):
    def __init__(self, console, pause, keep=None):
        super().__init__(console, pause, keep)
        self.tmp = None
        self.station = None
        self.broker = None
        self.procs = {}  # name -> (Popen, log path)
        self.meter_password = secrets.token_hex(8)

    # ---- the station's two background processes --------------------------------------------
    def spawn(self, name, args, env=None):
        """Start `prepay ARGS` as a subprocess (its output in a log file), echoing the command."""
        shown = " ".join(args)
        prefix = " ".join(f"{k}=..." for k in (env or {}))
        self.say(f"[dim]$ {prefix + ' ' if prefix else ''}prepay {shown} &[/]")
        log = os.path.join(self.tmp, name + ".log")
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "host_tools.cli", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )
        self.procs[name] = (proc, log)

    def check_running(self):
        for name, (proc, log) in self.procs.items():
            if proc.poll() is not None:
                raise DemoError(f"{name} stopped (exit {proc.returncode}): {_tail(log)}")

    def stop_all(self, check=True):
        """SIGTERM each background process and wait for it: no stray processes after the demo.
        Returns the names stopped; with `check`, DemoError if one did not exit with 0."""
        stopped, failed = [], []
        for name, (proc, log) in self.procs.items():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            stopped.append(name)
            if proc.returncode != 0:
                failed.append(f"{name} exited {proc.returncode}: {_tail(log)}")
        self.procs = {}
        if failed and check:
            raise DemoError("; ".join(failed))
        return stopped

    def wait(self, what, predicate, timeout):
        """Poll `predicate` (while the processes live) until it returns a true value."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = predicate()
            if found:
                return found
            self.check_running()
            time.sleep(0.1)
        raise DemoError(f"{what} did not happen within {timeout} s")

    # ---- what the head-end's tables say ------------------------------------------------------
    def online(self):
        from sqlalchemy import select

        from host_tools.vending import db

        links = db.meter_links
        query = select(links.c.online).where(links.c.meter == METER)
        return self.station.read(lambda c: c.execute(query).scalar())

    def delivery(self, token):
        from sqlalchemy import select

        from host_tools.vending import db

        d = db.deliveries
        query = select(d.c.status, d.c.attempts, d.c.result).where(d.c.digits == token)
        return self.station.read(lambda c: c.execute(query).first())

    def sent_kinds(self):
        """The kinds of the messages the dispatcher has sent on the file channel, in order."""
        from host_tools.notify.dispatcher import list_deliveries

        rows = self.station.read(lambda c: list_deliveries(c, "sent"))
        return [r["kind"] for r in rows if r["channel"] == "file"]

    def messages(self):
        path = os.path.join(self.home, MESSAGES_FILE)
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    # ---- the steps ---------------------------------------------------------------------------
    def run(self):
        from host_tools.device.client import DeviceClient
        from host_tools.headend.broker import BrokerUnavailable, LocalBroker, find_mosquitto
        from host_tools.sim.meter import SimMeter
        from host_tools.vending.station import Station

        try:
            find_mosquitto()  # before anything is made: a missing broker is one line
        except BrokerUnavailable as error:
            raise DemoError(str(error)) from None
        if self.keep:
            _clear_kept(self.keep)
        with (
            tempfile.TemporaryDirectory(prefix="prepay-demo-online-") as tmp,
            _demo_logins(),
            ExitStack() as cleanup,
        ):
            self.tmp = tmp
            self.home = os.path.abspath(self.keep) if self.keep else os.path.join(tmp, "station")
            self.heading("1. A vending station that tells its customers (file channel)")
            self._station()
            self.station = Station(self.home)
            cleanup.callback(self.station.close)

            self.heading("2. The MQTT broker: a real Mosquitto, one login per meter")
            broker = LocalBroker(meters={METER: self.meter_password})
            try:
                self.broker = broker.start()
            except BrokerUnavailable as error:
                raise DemoError(str(error)) from None
            cleanup.callback(self._stop_broker)
            self.say(
                f"Mosquitto on {broker.url}: users [bold]{broker.headend_user}[/] (the head-end)"
                f" and [bold]{METER}[/] (the meter); no anonymous clients"
            )
            self.say(f"ACL: the meter may use only prepay/v1/{METER}/#, the head-end every meter")

            self.heading("3. The head-end beside the station (it sends the messages too)")
            cleanup.callback(self.stop_all, check=False)  # on an error: the first error wins
            self.spawn("headend", ["headend", "--broker", broker.url, "--home", self.home],
                       env={"PREPAY_HEADEND_PASSWORD": broker.headend_password})  # fmt: skip

            self.heading("4. A simulated meter on the network")
            sim = cleanup.enter_context(SimMeter(state_dir=os.path.join(tmp, "meter"), speed=0))
            self.prepay("device", "provision", "--port", sim.port, "--meter", METER,
                        "--tariff", "residential", "--customer", "Demo Customer",
                        "--home", self.home)  # fmt: skip
            self.client = cleanup.enter_context(DeviceClient(sim.port, timeout=10))
            self._low_credit_config()
            with _environment(PREPAY_MQTT_PASSWORD=self.meter_password):
                self.say("[dim](the meter's broker password is in $PREPAY_MQTT_PASSWORD)[/]")
                self.prepay("device", "net-set", "--port", sim.port, "--broker", broker.url)
            self.wait("the meter coming online", self.online, WAIT_ONLINE_S)
            self.say(f"[green bold]meter {METER} is online[/] at the head-end")
            self.prepay("device", "status", "--port", sim.port)

            self._remote_topups()
            self._show_messages()
            stopped = self._stop_processes() + ["the simulated meter", "Mosquitto"]
        self.say(f"stopped: {', '.join(stopped)}")
        self.say("[green bold]online demo finished[/]: two tokens reached the meter over MQTT "
                 "with no keypad entry; the customer was told each step")  # fmt: skip
        self._how_to_open()

    def _station(self):
        """The same station as `prepay demo`'s step 1, plus the file channel."""
        self.make_station()
        self.prepay("notify", "set", "file_path", os.path.join(self.home, MESSAGES_FILE),
                    "--home", self.home)  # fmt: skip

    def remote_topup(self, amount, ref, channel):
        """Sell; the head-end delivers the token over MQTT. Shows the delivery's progress."""
        before = self.client.request("status")["credit_text"]
        token = self.vend(amount, ref, channel)
        seen = []

        def closed():
            row = self.delivery(token)
            if row is not None and (not seen or seen[-1] != row.status):
                seen.append(row.status)
            return row if row is not None and row.status not in ("pending", "sent") else None

        row = self.wait("the remote delivery", closed, WAIT_DELIVERY_S)
        if row.status != "accepted":
            raise DemoError(f"the meter answered {row.result!r} to the delivered token")
        self.client.request("sim.advance", seconds=1)  # one loop turn: the relay follows
        after = self.client.request("status")["credit_text"]
        self.say(f"delivery {' -> '.join(seen)} (attempts {row.attempts}); "
                 "nobody typed the token")  # fmt: skip
        self.say(f"meter credit [bold]{before}[/] -> [bold green]{after}[/]")
        self.events()

    def _remote_topups(self):
        from host_tools.demo import LOAD_W, STEP_S

        self.heading("5. A sale reaches the meter over MQTT")
        self.remote_topup("20.00", "DEMO-ONLINE-0001", "cash")

        self.heading(f"6. The meter runs down at {LOAD_W} W ({STEP_S // 60} virtual min a step)")
        status = self.consume(40, stop_when_open=True)
        if status["relay"] != "open":
            raise DemoError("the relay did not open at zero credit")
        self.client.request("sim.load", watts=0)
        self.say("a mobile-money payment arrives; the head-end sends the token at once:")
        self.remote_topup("10.00", "DEMO-ONLINE-0002", "mobile")

    def _show_messages(self):
        self.heading("7. What the customer was told (the file channel)")

        def all_sent():
            return sorted(self.sent_kinds()) == sorted(EXPECTED_KINDS)

        self.wait("the customer messages", all_sent, WAIT_MESSAGES_S)
        for message in self.messages():
            self.say(f"  [bold]{message['subject']}[/]")
            self.console.print(f"    {message['body']}", markup=False, highlight=False)
        self.say(f"[dim]({os.path.join(self.home, MESSAGES_FILE)}; e-mail and SMS go out the "
                 "same way once configured: docs/notify.md)[/]")  # fmt: skip

    def _stop_processes(self):
        return [f"prepay {name}" for name in self.stop_all()]

    def _stop_broker(self):
        if self.broker is not None:
            self.broker.stop()
            self.broker = None


def _tail(path):
    try:
        with open(path, errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return "no output"
    return " | ".join(lines[-3:]) or "no output"


def run_online_demo(console=None, pause=None, keep=None):
    """Run the whole online demo; raises DemoError if any step misbehaves."""
    from rich.console import Console

    from host_tools.demo import STEP_PAUSE_S

    OnlineDemo(console or Console(), STEP_PAUSE_S if pause is None else pause, keep).run()
