"""`prepay demo` (what `make demo` runs): a station sells a token to a simulated meter, which
spends it — non-interactive, in well under a minute, on built-in defaults.

1. A fresh station in a temporary home (SQLite) with a fixed demo passphrase, a flat tariff.
2. A simulated meter (`prepay sim`'s Python API) started and provisioned from the station.
3. A cash vend; the token is entered over the meter's serial port.
4. Consumption at 3 kW on the meter's virtual clock, 15 minutes per step, shown as it happens
   (credit, power, zone, relay) with the meter's pushed events: the low-credit alarm, then the
   relay opening at zero.
5. A second vend (mobile money) whose token closes the relay again.
6. The day's batch-close report, which checks that the books balance.

With `keep` (`prepay demo --keep DIR`; `make demo` keeps it in .demo-station/) the station is
built in DIR instead of a temporary home, so its sales can be seen afterwards in the web app:
the demo ends by printing the `prepay serve` command and the logins. DIR is replaced on each
run, but only if a demo made it (the MARKER file): any other directory is refused.

The station steps run the real `prepay` verbs in-process, so the output is what a clerk sees.
"""

import os
import shlex
import shutil
import tempfile
import time
from contextlib import contextmanager

from rich.console import Console

from host_tools.device.monitor import meter_clock

METER = "12345678903"
STS_METER = "00000000216"  # the STS meter's station number; its PAN is STS.md's PAN A
STS_PAN = "600727000000000009"
PASSPHRASE = "prepay demo passphrase"  # the throwaway demo station only
TARIFF_PRICE = "2.00"  # per kWh
METER_TARIFF = {"type": "flat", "price": 200}  # the same in register units (scale 100 = cents)
LOW_CREDIT = 500  # register units (5.00): the low-credit alarm threshold
LOAD_W = 3000
POWER = {"limit_w": 10000}  # a 10 kW limit: the demo load stays well below it
STEP_S = 15 * 60
STEP_PAUSE_S = 0.12  # real time per step, so the run can be followed on screen
ZONE_STYLE = {"normal": "green", "low": "yellow", "disconnected": "red"}
MARKER = ".prepay-demo"  # in a kept demo station's home: this demo may replace it
USERS = {"admin": "admin", "demo": "cashier", "super": "supervisor"}  # password: PASSPHRASE


@contextmanager
def _environment(**wanted):
    """Environment variables set (None: unset) for the duration, restored afterwards."""
    old = {name: os.environ.get(name) for name in wanted}
    for name, value in wanted.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _demo_logins():
    """The demo station's passphrase and logins: `station init` makes the admin from
    PREPAY_USER/PREPAY_USER_PASSWORD, the verbs act as the admin unless a step names a user
    (the cashier "demo" sells), and `user add` gives every user the same password."""
    return _environment(
        PREPAY_PASSPHRASE=PASSPHRASE,
        PREPAY_USER="admin",
        PREPAY_USER_PASSWORD=PASSPHRASE,
        PREPAY_NEW_USER_PASSWORD=PASSPHRASE,
        PREPAY_SUPERVISOR=None,
    )


class Demo:
    def __init__(self, console, pause=STEP_PAUSE_S, keep=None):
        self.console = console
        self.pause = pause
        self.keep = keep
        self.home = None
        self.client = None
        self.seen_seq = 0

    def say(self, text):
        self.console.print(text)

    def heading(self, text):
        self.console.rule(f"[bold]{text}")

    def prepay(self, *args, user=None):
        """Run a `prepay` verb in this process, echoing the command line; as `user` instead of
        the admin when given (every user's password is PASSPHRASE)."""
        from host_tools.cli import main

        who = f"PREPAY_USER={user} " if user else ""
        self.say(f"[dim]$ {who}prepay {' '.join(args)}[/]")
        with _environment(PREPAY_USER=user or os.environ["PREPAY_USER"]):
            main.main(list(args), prog_name="prepay", standalone_mode=False)

    # ---- station ------------------------------------------------------------------------
    def vend(self, amount, ref, channel, meter=METER):
        """Sell through the CLI (prints the receipt); returns the token digits."""
        from host_tools.vending import vend
        from host_tools.vending.station import Station

        self.prepay("vend", meter, amount, "--ref", ref, "--channel", channel,
                    "--home", self.home, user="demo")  # fmt: skip
        station = Station(self.home)
        try:
            return vend.find_receipt(station, None, ref)["token"]
        finally:
            station.close()

    # ---- meter --------------------------------------------------------------------------
    def enter(self, token):
        result = self.client.request("token", token=token)
        grouped = " ".join(token[i : i + 4] for i in range(0, 20, 4))
        self.say(f"meter <- token {grouped}: [bold]{result['result']}[/], "
                 f"credit {result['credit_text']}")  # fmt: skip
        if result["result"] != "accepted":
            raise DemoError(f"the meter answered {result['result']!r} to the token")
        self.client.request("sim.advance", seconds=1)  # one loop turn: the relay follows
        return result

    def show(self, status):
        zone = status["zone"]
        style = ZONE_STYLE.get(zone, "magenta")
        relay = status["relay"]
        clock = meter_clock(status["time"], "%a %H:%M")
        self.say(
            f"  {clock}  credit {status['credit_text']:>6}  {status['power_w']:>4} W  "
            f"{status['energy_wh']:>5} Wh  [{style}]{zone:<12}[/] "
            f"relay [{'green' if relay == 'closed' else 'red'}]{relay}[/]"
        )

    def events(self):
        """Say what the meter pushed since the last look; returns their kinds."""
        kinds = []
        for event in self.client.events_pending():
            kind, a = event["event"], event["a"]
            kinds.append((kind, a))
            if kind == "zone" and event["b"] == 1:
                self.say("  [yellow bold]>> LOW CREDIT ALARM[/] (zone event): top up soon")
            elif kind == "relay":
                state = "closed" if a == 1 else "opened"
                self.say(f"  [bold]>> relay {state}[/] (relay event)")
        return kinds

    def consume(self, steps, stop_when_open=False):
        """Run the load for up to `steps` steps of virtual time, showing each."""
        self.client.request("sim.load", watts=LOAD_W)
        for _ in range(steps):
            self.client.request("sim.advance", seconds=STEP_S)
            status = self.client.request("status")
            self.show(status)
            self.events()
            time.sleep(self.pause)
            if stop_when_open and status["relay"] == "open":
                return status
        return status

    def run(self):
        from host_tools.device.client import DeviceClient
        from host_tools.sim.meter import SimMeter

        if self.keep:
            _clear_kept(self.keep)
        with tempfile.TemporaryDirectory(prefix="prepay-demo-") as tmp, _demo_logins():
            self.home = os.path.abspath(self.keep) if self.keep else os.path.join(tmp, "station")
            where = self.home if self.keep else "temporary home"
            self.heading(f"1. A vending station (SQLite, {where})")
            self.say("[dim]the CLI acts as a logged-in user: PREPAY_USER=admin and "
                     "PREPAY_USER_PASSWORD (station init makes that admin; every demo user's "
                     "password is the demo passphrase)[/]")  # fmt: skip
            self.make_station()

            self.heading("2. A simulated meter, provisioned from the station")
            with SimMeter(state_dir=os.path.join(tmp, "meter"), speed=0) as sim:
                self.say(f"simulated meter on {sim.port} (MicroPython unix port, sim HAL)")
                self.prepay("device", "provision", "--port", sim.port, "--meter", METER,
                            "--tariff", "residential", "--customer", "Demo Customer",
                            "--home", self.home)  # fmt: skip
                with DeviceClient(sim.port) as client:
                    self.client = client
                    self._sell_and_spend()
            self.sts_meter(tmp)
            self.heading("6. Batch close: the day's report")
            self.prepay("report", "day", "--home", self.home)
        self.say("[green bold]demo finished[/]: token sold, spent, relay cut at zero and "
                 "restored by a second token; the books balance")  # fmt: skip
        self._how_to_open()

    def make_station(self):
        """Step 1: the station, its users (the admin from `station init`) and the tariff."""
        self.prepay("station", "init", "--home", self.home)
        if self.keep:
            open(os.path.join(self.home, MARKER), "w").close()
        for name, role in USERS.items():
            if name != "admin":  # `station init` made the admin
                self.prepay("user", "add", name, "--role", role, "--home", self.home)
        self.prepay("tariff", "add", "residential", "--price", TARIFF_PRICE,
                    "--home", self.home)  # fmt: skip

    def _how_to_open(self):
        """How to see this station in the web app (or how to keep it, for a temporary one)."""
        if not self.keep:
            self.say("To see the demo's sales in the web app: [bold]prepay demo --keep DIR[/], "
                     "then the `prepay serve` command it prints.")  # fmt: skip
            return
        inside = not os.path.relpath(self.home).startswith("..")  # .demo-station: short
        home = os.path.relpath(self.home) if inside else self.home
        command = (f"PREPAY_PASSPHRASE={shlex.quote(PASSPHRASE)} prepay serve "
                   f"--home {shlex.quote(home)}")  # fmt: skip
        logins = ", ".join(f"{name} ({role})" for name, role in USERS.items())
        self.heading("The web app on the demo station")
        self.console.print(f"  {command}", markup=False, highlight=False, soft_wrap=True)
        self.say("  then open [bold]http://127.0.0.1:8080/[/] and log in as " + logins)
        self.say(f"  password (all three): {PASSPHRASE}")
        self.say("  the CLI acts as a user the same way: PREPAY_USER=demo "
                 f"PREPAY_USER_PASSWORD={shlex.quote(PASSPHRASE)} prepay vend ...")  # fmt: skip
        self.say("  (.venv/bin/prepay if the venv is not activated; Ctrl-C stops the server)")

    def _sell_and_spend(self):
        self._low_credit_config()
        self.heading("3. A cash sale; the token is entered over the serial port")
        self.enter(self.vend("20.00", "DEMO-CASH-0001", "cash"))
        self.show(self.client.request("status"))
        self.events()

        self.heading(f"4. Consumption at {LOAD_W} W, {STEP_S // 60} virtual minutes per step")
        status = self.consume(40, stop_when_open=True)
        if status["relay"] != "open":
            raise DemoError("the relay did not open at zero credit")
        self.consume(2)  # nothing flows through an open relay

        self.heading("5. A second sale (mobile money) reconnects the supply")
        self.enter(self.vend("10.00", "DEMO-MOBILE-0002", "mobile"))
        self.events()
        status = self.consume(2)
        if status["relay"] != "closed":
            raise DemoError("the relay did not close after the top-up")
        self.client.request("sim.load", watts=0)

    def _low_credit_config(self):
        """The demo meter raises its low-credit alarm at 5.00 (a signed config blob)."""
        from host_tools.vending.mgmt import sign
        from host_tools.vending.station import Station

        station = Station(self.home)
        try:
            # The power limit is what makes the meter measure power (shown in each step).
            config = {"tariff": METER_TARIFF, "low_credit": LOW_CREDIT, "power": POWER}
            receipt = sign(station, METER, config, cashier="admin")
        finally:
            station.close()
        self.client.set_config(receipt["blob"])
        self.say(
            f"signed config #{receipt['counter']} applied: low-credit alarm at 5.00, "
            f"power limit {POWER['limit_w']} W"
        )

    # ---- an STS meter beside the v1 one (issue 16) -------------------------------------
    def sts_meter(self, tmp):
        """Register an STS meter, provision a second simulated meter as it, sell it a token and
        enter it over the serial port (run() calls it after step 5)."""
        from host_tools.device.client import DeviceClient
        from host_tools.sim.meter import SimMeter

        self.heading("5b. STS: an STS-compatible meter beside the v1 meter")
        self.prepay("station", "sts-key", "generate", "--dkga", "04", "--home", self.home)
        self.prepay("meter", "add", STS_METER, "--unit", "kwh", "--scale", "1000",
                    "--imp-per-kwh", "1000", "--tariff", "residential", "--format", "sts",
                    "--pan", STS_PAN, "--sgc", "123456", "--ti", "01", "--krn", "1",
                    "--ea", "07", "--dkga", "04", "--base", "2014",
                    "--home", self.home)  # fmt: skip
        with SimMeter(state_dir=os.path.join(tmp, "sts-meter"), speed=0) as sim:
            self.prepay("device", "provision", "--port", sim.port, "--meter", STS_METER,
                        "--home", self.home)  # fmt: skip
            with DeviceClient(sim.port) as client:
                v1_client, self.client = self.client, client
                try:
                    self.enter(self.vend("10.00", "DEMO-STS-0001", "cash", STS_METER))
                    self.show(client.request("status"))
                finally:
                    self.client = v1_client


class DemoError(Exception):
    """A demo step did not do what the demo shows; the message names it."""


def _clear_kept(home):
    """Remove a previous run's kept station; refuse a directory the demo did not make."""
    if not os.path.exists(home):
        return
    if not os.path.isdir(home) or (
        os.listdir(home) and not os.path.exists(os.path.join(home, MARKER))
    ):
        raise DemoError(f"{home} is not a demo station: choose another --keep directory")
    shutil.rmtree(home)


def run_demo(console=None, pause=STEP_PAUSE_S, keep=None):
    """Run the whole demo; raises DemoError (or a CLI error) if any step misbehaves."""
    Demo(console or Console(), pause, keep).run()
