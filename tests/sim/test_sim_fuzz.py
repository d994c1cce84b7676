"""Fuzz the serial protocol over the pty: 100,000 random and malformed lines (20,000 on the 32-bit
frozen interpreter, which runs the same firmware code), every request line answered in order, and
the meter healthy afterwards.

No wall-clock budget: the run fails only when the meter stops answering (STALL seconds without
a single answer), so a loaded machine makes it slower, never red."""

import json
import random
import threading
import time

from host_tools.device.client import DeviceClient
from tests.sim.sim_scenario_helpers import provision, token

LINES = {"pypi": 100_000, "unix32": 20_000}
STALL = 60  # seconds without any answer: the meter has stopped answering
SEED = 20260522
SAFE_COMMANDS = [
    "hello",
    "status",
    "events",
    "token",
    "keypad",
    "config.get",
    "config.set",
    "ec.activate",
    "sim.display",
    "sim.load",
    "sim.pulses",
    "provision",
    "nope",
    "sim.advance",
    "",
    "STATUS",
    "sim.tamper",
]
JUNK_VALUES = [
    None,
    True,
    -1,
    0,
    1,
    2**40,
    1.5,
    "",
    "x" * 30,
    [],
    {},
    [1, 2],
    {"a": 1},
    "12345678901234567890",
    "1234 5678 9012 3456 7890",
    "#",
    "A*#",
    -(2**31),
]


def _random_bytes(rng):
    data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 120)))
    return data.replace(b"\n", b"")


def _line(rng, i):
    """(line bytes, expected response id or None; "skip" for a line that gets no answer)."""
    kind = rng.randrange(10)
    if kind == 0:
        line = _random_bytes(rng)
        return line, ("skip" if not line.strip() else None)
    if kind == 1:  # over-long
        return b'{"id": %d, "cmd": "status", "pad": "' % i + b"x" * rng.randrange(
            1024, 3000
        ) + b'"}', None
    if kind == 2:  # JSON that is not a usable request
        return json.dumps(
            rng.choice([[1], 5, "s", None, {"cmd": "status"}, {"id": [1]}])
        ).encode(), None
    if kind == 3:  # broken JSON
        text = json.dumps({"id": i, "cmd": "status"})
        return text[: rng.randrange(1, len(text))].encode(), None
    # a request with an id: arguments random, of the wrong type or missing
    req = {"id": i if kind != 4 else "r%d" % i, "cmd": rng.choice(SAFE_COMMANDS)}
    for name in rng.sample(
        [
            "since",
            "token",
            "keys",
            "blob",
            "watts",
            "count",
            "seconds",
            "open",
            "meter_number",
            "decoder_key",
            "more",
            "offset",
        ],
        rng.randrange(3),
    ):
        req[name] = rng.choice(JUNK_VALUES)
    if req["cmd"] == "sim.advance":
        req["seconds"] = rng.choice([None, -5, "1", 0, 1, 30])
    if req["cmd"] == "sim.pulses":
        req["count"] = rng.choice([None, -1, 0, 3, 1.5])
    if req["cmd"] == "sim.load":
        req["watts"] = rng.choice([None, -1, 0, 500, "9"])
    if req["cmd"] == "token" and kind == 9:
        req["token"] = "".join(rng.choice("0123456789") for _ in range(20))
    line = json.dumps(req).encode()
    if rng.random() < 0.05:
        line += b"\r"
    if len(line) + 1 > 1024:
        return line, None
    return line, req["id"]


def test_fuzz_every_line_answered_and_meter_healthy(sim, interpreter):
    rng = random.Random(SEED)
    lines, expected = [], []
    for i in range(1, LINES[interpreter] + 1):
        line, want = _line(rng, i)
        lines.append(line + b"\n")
        if want != "skip":
            expected.append(want)
    with DeviceClient(sim.port, timeout=10) as client:
        provision(client, low_credit=100)
        assert client.request("token", token=token(5000))["result"] == "accepted"
        payload = b"".join(lines)
        writer = threading.Thread(
            target=lambda: (client.serial.write(payload), client.serial.flush())
        )
        writer.start()
        answers = []
        last_answer = time.monotonic()
        while len(answers) < len(expected) and time.monotonic() - last_answer < STALL:
            for obj in client.read_line_objects(0.5):
                if "id" in obj:
                    answers.append(obj["id"])
                    last_answer = time.monotonic()
        writer.join(10)
        assert len(answers) == len(expected), (len(answers), len(expected))
        assert answers == expected
        st = client.request("status")
        assert st["provisioned"] and st["credit"] >= 0
        assert client.request("hello")["meter_number"] == "12345678903"
        assert client.request("token", token=token(100, 1))["result"] in ("accepted", "locked")
