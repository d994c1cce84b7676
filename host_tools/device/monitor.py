"""A live view of one meter: registers from `status`, and its events as they arrive.

    prepay device monitor --port P [--once | --seconds N] [--interval S]

Works on a board and on `prepay sim` alike (the serial protocol only). The view refreshes
every `interval` seconds; `--once` prints one frame (scripts, tests), `--seconds N` stops
after N seconds. The event list starts with the meter's most recent logged events.
"""

import collections
import time
from datetime import UTC, datetime

from rich.console import Group
from rich.table import Table

from host_tools.device.event_words import describe
from token_spec.epoch import EPOCH_UNIX

SHOWN_EVENTS = 12


def meter_clock(seconds, form="%Y-%m-%d %H:%M:%S"):
    """Meter time (seconds since 2020-01-01 UTC) as text in UTC."""
    return datetime.fromtimestamp(EPOCH_UNIX + seconds, UTC).strftime(form)


def status_rows(status):
    """(label, value) pairs for the register table."""
    if not status.get("provisioned"):
        return [("meter", "not provisioned"), ("relay", status.get("relay", "?"))]
    unit = "kWh" if status.get("unit") == "kwh" else ""
    lockout = status.get("lockout", {})
    ec = status.get("emergency_credit", {})
    rows = [
        ("meter", status.get("meter_number")),
        ("clock", meter_clock(status.get("time", 0))),
        ("credit", f"{status.get('credit_text')} {unit}".strip()),
        ("zone", status.get("zone")),
        ("relay", f"{status.get('relay')} ({status.get('relay_reason')})"),
        ("power", f"{status.get('power_w')} W"),
        ("energy", f"{status.get('energy_wh')} Wh"),
        ("emergency credit", f"granted {ec.get('granted', 0)}, in use {ec.get('in_use', 0)}"),
        ("lockout", f"{lockout.get('seconds_left', 0)} s ({lockout.get('failures', 0)} bad)"),
    ]
    tamper = status.get("tamper", {})
    shown = [
        word
        for word, on in (("OPEN", tamper.get("open")), ("LATCHED", tamper.get("latched")))
        if on
    ]
    if shown:
        rows.append(("tamper", ", ".join(shown)))
    return rows


def event_text(event):
    when = meter_clock(event.get("time", 0))
    return f"#{event.get('seq')} {when} {describe(event)}"


def render(port, status, events):
    """One frame: the register table above the newest events."""
    regs = Table(title=f"meter on {port}", show_header=False, min_width=48)
    regs.add_column("what", style="bold")
    regs.add_column("value")
    for label, value in status_rows(status):
        regs.add_row(label, str(value))
    log = Table(title="events", show_header=False, min_width=48)
    log.add_column("event")
    for event in list(events)[-SHOWN_EVENTS:]:
        log.add_row(event_text(event))
    return Group(regs, log)


class MeterWatch:
    """Polls one connected DeviceClient; keeps the recent events for the view."""

    def __init__(self, client):
        self.client = client
        self.events = collections.deque(maxlen=SHOWN_EVENTS)
        self.status = {}

    def start(self):
        """Read the status and the most recent logged events."""
        self.status = self.client.request("status")
        newest = self.status.get("event_seq", 0)
        since = max(0, newest - SHOWN_EVENTS)
        for event in self.client.all_events(since):
            self.events.append(event)
        return self

    def poll(self):
        """New status, plus any events pushed since the last poll."""
        self.status = self.client.request("status")
        seen = self.events[-1]["seq"] if self.events else 0
        for event in self.client.events_pending():
            if event.get("seq", 0) > seen:
                self.events.append(event)
        return self.status


def monitor(port, console, seconds=None, once=False, interval=0.5, timeout=5.0):
    """Show the meter on `port` on `console` until `seconds` pass (forever if None)."""
    from rich.live import Live

    from host_tools.device.client import DeviceClient

    with DeviceClient(port, timeout=timeout) as client:
        watch = MeterWatch(client).start()
        if once:
            console.print(render(port, watch.status, watch.events))
            return watch.status
        end = None if seconds is None else time.monotonic() + seconds
        with Live(render(port, watch.status, watch.events), console=console) as live:
            while end is None or time.monotonic() < end:
                time.sleep(
                    interval if end is None else max(0, min(interval, end - time.monotonic()))
                )
                watch.poll()
                live.update(render(port, watch.status, watch.events))
        return watch.status
