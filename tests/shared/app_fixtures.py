"""Helpers for the app tests (both interpreters): a real sim HAL on a fresh state folder."""

import json
import os

from firmware.app import commands
from firmware.app.meter_app import MeterApp
from firmware.hal import sim
from token_spec import encode_token
from token_spec.types import TYPE_CREDIT

METER = "12345678903"
KEY = bytes(range(16))
START = 200000000  # meter time at the start of every test (2026-05-03)
SETTINGS = {
    "meter_number": METER,
    "decoder_key": "".join("%02x" % b for b in KEY),
    "unit": "currency",
    "scale": 100,
    "pulses_per_kwh": 1000,
    "tariff": {"type": "flat", "price": 25},
    "config": {"low_credit": 100},
}


def fresh_dir():
    """A new empty folder under /tmp."""
    name = "/tmp/prepay-app-" + "".join("%02x" % b for b in os.urandom(6))
    os.mkdir(name)
    return name


def remove_dir(path):
    """Delete a state folder made by fresh_dir (flat: files only)."""
    for entry in os.listdir(path):
        os.remove(path + "/" + entry)
    os.rmdir(path)


class StateDir:
    """`with StateDir() as d:` a fresh state folder, removed afterwards."""

    def __enter__(self):
        self.path = fresh_dir()
        return self.path

    def __exit__(self, *exc):
        remove_dir(self.path)
        return False


def boot(state_dir, start=None):
    """A booted app on the sim HAL (manual clock) in state_dir."""
    hal = sim.create({"state_dir": state_dir, "speed_milli": 0, "start": start})
    app = MeterApp(hal)
    app.boot()
    return app


class Session:
    """Sends request objects through the real line handler, numbering them."""

    def __init__(self, app):
        self.app = app
        self.next_id = 1

    def raw(self, line):
        out = commands.handle_line(self.app, line)
        return None if out is None else json.loads(out)

    def call(self, cmd, **args):
        msg = {"id": self.next_id, "cmd": cmd}
        msg.update(args)
        self.next_id += 1
        reply = self.raw(json.dumps(msg).encode())
        assert reply["id"] == msg["id"], reply
        return reply

    def ok(self, cmd, **args):
        reply = self.call(cmd, **args)
        assert reply["ok"], reply
        return reply["result"]

    def error(self, cmd, **args):
        reply = self.call(cmd, **args)
        assert not reply["ok"], reply
        return reply["error"]


def provisioned(state_dir, **overrides):
    """A booted, provisioned app and its session."""
    app = boot(state_dir, START)
    s = Session(app)
    settings = dict(SETTINGS)
    settings.update(overrides)
    s.ok("provision", **settings)
    return app, s


def credit_token(amount, minutes_after_start=0):
    """A credit token for the test meter with a TID at START + the given minutes."""
    tid = (START // 60) + minutes_after_start
    return encode_token(KEY, METER, TYPE_CREDIT, amount, tid)
