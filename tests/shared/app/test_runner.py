"""The runner's loop turn (watchdog only when healthy) and serial turn, on the real app.

The serial port is a byte queue here; the real pty is exercised by tests/sim.
"""

import json

import app_fixtures as fx
import support

from firmware.app.runner import Runner


class BytePort:
    """Bytes in, bytes out: what StdioPort does without the file descriptors."""

    def __init__(self):
        self.inbox = b""
        self.out = b""
        self.closed = False

    def read(self):
        data, self.inbox = self.inbox[:100], self.inbox[100:]  # arrives in pieces
        return data

    def write(self, data):
        self.out += data

    def lines(self):
        return [json.loads(line) for line in self.out.split(b"\n") if line]


def test_watchdog_is_fed_only_after_a_healthy_loop_turn():
    with fx.StateDir() as d:
        app, s = fx.provisioned(d)
        runner = Runner(app, BytePort())
        logged = []
        runner.log_exception = logged.append
        feeds = app.hal.watchdog_feeds
        assert runner.loop_once() is True
        assert app.hal.watchdog_feeds == feeds + 1
        config = app.meter.config
        app.meter.config = None  # a broken core: every turn raises
        assert runner.loop_once() is False and runner.loop_once() is False
        assert app.hal.watchdog_feeds == feeds + 1 and runner.loop_errors == 2
        assert len(logged) == 2 and isinstance(logged[0], AttributeError)
        app.meter.config = config
        assert runner.loop_once() is True and app.hal.watchdog_feeds == feeds + 2


def test_serial_turn_answers_in_order_and_pushes_committed_events():
    with fx.StateDir() as d:
        app = fx.boot(d, fx.START)
        port = BytePort()
        runner = Runner(app, port)
        settings = dict(fx.SETTINGS, id=2, cmd="provision")
        port.inbox = (
            b'{"id": 1, "cmd": "hello"}\n\n'
            + json.dumps(settings).encode()
            + b"\nnot json\n"
            + json.dumps({"id": 3, "cmd": "token", "token": fx.credit_token(500)}).encode()
            + b"\n"
        )
        while port.inbox:
            runner.serve_once()
        got = port.lines()
        answers = [g for g in got if "event" not in g]
        assert [a["id"] for a in answers] == [1, 2, None, 3]
        assert answers[2]["error"] == "bad_json" and answers[3]["result"]["result"] == "accepted"
        events = [g["event"] for g in got if "event" in g]
        assert events[0] == "boot" and "token" in events and "relay" in events
        assert runner.lines == 4


def test_power_cut_request_is_answered_then_the_process_ends():
    with fx.StateDir() as d:
        app, s = fx.provisioned(d)
        port = BytePort()
        port.inbox = b'{"id": 9, "cmd": "sim.power_cut"}\n{"id": 10, "cmd": "status"}\n'
        runner = Runner(app, port)
        exc = support.raises(SystemExit, runner.serve_once)
        assert exc.args[0] == 75
        assert [g.get("id") for g in port.lines() if "id" in g] == [9]  # 10 never ran
