"""Serial client for a meter (a board's USB serial or the simulator's pty).

    with DeviceClient("/dev/ttyUSB0") as meter:    # opens the port and shakes hands (hello)
        meter.request("status")                      # -> the result dict, or DeviceError
        meter.events_pending()                       # events pushed meanwhile

The protocol is JSON lines (docs/firmware.md). Opening a serial port loses whatever the meter
printed before, and a board may still be booting, so `open()` repeats `hello` until one is
answered. Lines that are not JSON (a boot banner, a traceback) are kept in `noise`, not parsed.
"""

import collections
import json
import os
import time

import serial

from token_spec.meter_link import MAX_LINE

BAUDRATE = 115200
# A board takes its USB serial input into MicroPython's 260-byte stdin ring, and the firmware
# empties it only between loop iterations; a flash erase can hold an iteration for ~50 ms,
# while at 115200 baud 260 bytes arrive in 23 ms. So to a real serial port a line goes out in
# 64-byte chunks 20 ms apart (3.2 KB/s): a 50 ms stall lets in 160 bytes, which the ring holds.
# A pseudo-terminal (the simulator) has kernel buffers of several KiB and needs no pacing.
PACE_CHUNK = 64
PACE_GAP_S = 0.02


class DeviceError(Exception):
    """The meter answered with an error; `code` is its error code (docs/firmware.md)."""

    def __init__(self, code, message, cmd=None):
        super().__init__(
            "%s: %s" % (code, message) if cmd is None else "%s: %s: %s" % (cmd, code, message)
        )
        self.code = code
        self.message = message
        self.cmd = cmd


class DeviceTimeout(DeviceError):
    """No answer within the timeout (wrong port, meter not running the firmware, busy)."""

    def __init__(self, message):
        super().__init__("timeout", message)


class DeviceClient:
    """One connection to a meter; requests are numbered and answered in order."""

    def __init__(self, port, timeout=5.0, handshake_timeout=15.0, baudrate=BAUDRATE, pace=None):
        self.port = port
        # Pace writes (see PACE_CHUNK): None = only to a real serial port, not to a pty.
        self.pace = not _is_pty(port) if pace is None else pace
        self.timeout = timeout
        self.handshake_timeout = handshake_timeout
        self.baudrate = baudrate
        self.serial = None
        self.hello = None
        self.events = collections.deque(maxlen=10000)
        self.noise = collections.deque(maxlen=100)
        self._next_id = 1
        self._buf = bytearray()

    # ---- connection ----------------------------------------------------------------------
    def open(self):
        """Open the port and shake hands; returns the hello result."""
        try:
            self.serial = serial.Serial(self.port, self.baudrate, timeout=0.05)
        except (serial.SerialException, OSError) as exc:
            raise DeviceError("no_port", "cannot open %s: %s" % (self.port, exc)) from None
        self.serial.reset_input_buffer()
        self.hello = self.handshake()
        return self.hello

    def handshake(self):
        """Send hello until the meter answers (it may be booting); returns its result."""
        deadline = time.monotonic() + self.handshake_timeout
        self._send(b"\n")  # end any half line left in the meter's buffer by a previous client
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeviceTimeout(
                    "no answer to hello from %s within %.0f s (is the meter firmware running?)"
                    % (self.port, self.handshake_timeout)
                )
            try:
                return self.request("hello", _timeout=min(1.0, left))
            except DeviceTimeout:
                continue

    def close(self):
        """Close the port."""
        if self.serial is not None:
            self.serial.close()
            self.serial = None

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- requests ------------------------------------------------------------------------
    def request(self, cmd, _timeout=None, **args):
        """Send one command and wait for its response; returns `result` or raises DeviceError."""
        req_id = self._next_id
        self._next_id += 1
        msg = {"id": req_id, "cmd": cmd}
        msg.update(args)
        line = json.dumps(msg, separators=(",", ":")).encode() + b"\n"
        if len(line) > MAX_LINE:
            raise DeviceError("line_too_long", "request is %d bytes > %d" % (len(line), MAX_LINE))
        self._send(line)
        timeout = self.timeout if _timeout is None else _timeout
        deadline = time.monotonic() + timeout
        while True:
            for obj in self._read_objects(deadline):
                if obj.get("id") != req_id:
                    continue  # an answer to an earlier, abandoned request
                if obj.get("ok"):
                    return obj.get("result")
                raise DeviceError(obj.get("error", "error"), obj.get("message", ""), cmd)
            if time.monotonic() >= deadline:
                raise DeviceTimeout(
                    "no answer to %s from %s within %.1f s" % (cmd, self.port, timeout)
                )

    def all_events(self, since=0):
        """Every logged event after `since`, fetched page by page."""
        out = []
        while True:
            page = self.request("events", since=since)
            out.extend(page["events"])
            if not page["more"] or not page["events"]:
                return out
            since = page["events"][-1]["seq"]

    def set_config(self, blob, part=900):
        """Send a signed config blob (in several parts if it is long); returns the result."""
        for start in range(0, len(blob), part):
            chunk = blob[start : start + part]
            more = start + part < len(blob)
            result = self.request("config.set", blob=chunk, more=more)
        return result

    def send_raw(self, data):
        """Write bytes as they are (tests and tools that speak the protocol themselves)."""
        self._send(data)

    def read_line_objects(self, timeout):
        """Parsed JSON objects received within `timeout` seconds (responses and events)."""
        return list(self._read_objects(time.monotonic() + timeout, keep_events=False))

    def events_pending(self):
        """Events pushed by the meter since the last call, oldest first."""
        out = list(self.events)
        self.events.clear()
        return out

    def wait_event(self, kind, timeout=None, **fields):
        """Wait for a pushed event of `kind` (and these field values); returns it. Other
        events stay queued."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for ev in list(self.events):
                if ev.get("event") == kind and all(ev.get(k) == v for k, v in fields.items()):
                    self.events.remove(ev)
                    return ev
            if time.monotonic() >= deadline:
                raise DeviceTimeout("no %s event from %s" % (kind, self.port))
            list(self._read_objects(min(deadline, time.monotonic() + 0.1)))

    # ---- lines ---------------------------------------------------------------------------
    def _send(self, data):
        if self.serial is None:
            raise DeviceError("closed", "the connection to %s is not open" % self.port)
        try:
            if not self.pace:
                self.serial.write(data)
                self.serial.flush()
                return
            for start in range(0, len(data), PACE_CHUNK):
                if start:
                    time.sleep(PACE_GAP_S)
                self.serial.write(data[start : start + PACE_CHUNK])
                self.serial.flush()
        except (serial.SerialException, OSError) as exc:
            raise DeviceError("disconnected", "%s: %s" % (self.port, exc)) from None

    def _read_objects(self, deadline, keep_events=True):
        """Yield parsed objects until the deadline; events go to the queue when keep_events."""
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if time.monotonic() >= deadline:
                    return
                try:
                    chunk = self.serial.read(self.serial.in_waiting or 1)
                except (serial.SerialException, OSError) as exc:
                    raise DeviceError("disconnected", "%s: %s" % (self.port, exc)) from None
                if chunk:
                    self._buf += chunk
                continue
            raw = bytes(self._buf[:nl]).strip()
            del self._buf[: nl + 1]
            if not raw:
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                self.noise.append(raw)
                continue
            if not isinstance(obj, dict):
                self.noise.append(raw)
                continue
            if "event" in obj and "id" not in obj and keep_events:
                self.events.append(obj)
                continue
            yield obj


def _is_pty(port):
    """True for a pseudo-terminal (`prepay sim`), whose buffers need no pacing."""
    return os.path.realpath(str(port)).startswith("/dev/pts/")
