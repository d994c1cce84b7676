"""The firmware's asyncio tasks: the ~250 ms meter loop and the serial protocol.

The watchdog is fed by the meter loop only after an iteration that completed without an
exception within _LOOP_HEALTHY_MS; a stuck or failing loop lets the board reset.
"""

import asyncio
import sys

from firmware.app import commands
from firmware.app.protocol import LineFramer
from firmware.core.ticks import ticks_diff
from token_spec.compat import const

_LOOP_MS = const(250)
_LOOP_HEALTHY_MS = const(2000)
_SERIAL_IDLE_MS = const(10)
_BATCH = const(1024)
_NET_MS = const(50)
_NET_IDLE_MS = const(500)


def _log_exception(exc):
    # stderr: the simulator's log; on a board it shares the serial line (clients skip it).
    printer = getattr(sys, "print_exception", None)
    if printer is not None:
        printer(exc, sys.stderr)
    else:
        import traceback

        traceback.print_exception(exc)


class Runner:
    """Owns the app, the serial port and the loop statistics (bench/firmware.py reads them)."""

    def __init__(self, app, port):
        self.app = app
        self.port = port
        self.framer = LineFramer()
        self.loop_errors = 0
        self.last_loop_ms = 0
        self.max_loop_ms = 0
        self.lines = 0
        self.log_exception = _log_exception

    def loop_once(self):
        """One meter-loop iteration; feeds the watchdog only if it was healthy."""
        hal = self.app.hal
        start = hal.ticks_ms()
        try:
            self.app.step()
        except Exception as exc:  # logged, not fed: repeated failures end in a watchdog reset
            self.loop_errors += 1
            self.log_exception(exc)
            return False
        took = ticks_diff(hal.ticks_ms(), start)
        self.last_loop_ms = took
        if took > self.max_loop_ms:
            self.max_loop_ms = took
        if took > _LOOP_HEALTHY_MS:
            return False
        hal.feed_watchdog()
        return True

    def serve_once(self):
        """Answer every complete request line waiting on the port; True if bytes arrived."""
        data = self.port.read()
        app = self.app
        if data:
            # Answers are written in batches of about 1 KiB: one write per line would cost a
            # system call (a USB transfer on a board) each.
            batch = b""
            for line in self.framer.feed(data):
                out = commands.handle_line(app, line)
                if out is not None:
                    self.lines += 1
                    batch += out
                restart = getattr(app, "reset_pending", False)  # after a field update
                if len(batch) >= _BATCH or app.power_cut_pending or restart:
                    self.port.write(batch)
                    batch = b""
                if app.power_cut_pending:
                    app.hal.power_cut()  # ends the process (sim); the answer went out first
                if restart:
                    app.hal.reset()  # boots the new slot; the answer went out first
            if batch:
                self.port.write(batch)
        self.push_events()
        if self.port.closed:
            raise SystemExit(0)  # the simulator's supervisor is gone
        return bool(data)

    def push_events(self):
        """Write every new committed event as an event line."""
        from firmware.app.protocol import encode_event

        for event in self.app.new_events():
            self.port.write(encode_event(event))

    async def meter_loop(self):
        while True:
            start = self.app.hal.ticks_ms()
            self.loop_once()
            wait = _LOOP_MS - ticks_diff(self.app.hal.ticks_ms(), start)
            await asyncio.sleep_ms(wait if wait > 0 else 0)

    async def serial_loop(self):
        while True:
            busy = self.serve_once()
            await asyncio.sleep_ms(0 if busy else _SERIAL_IDLE_MS)

    async def net_loop(self):
        # The link's poll is bounded (docs/interfaces.md, Online meters); without network
        # settings this task only sleeps.
        while True:
            net = self.app.net
            if net is not None:
                net.poll()
            await asyncio.sleep_ms(_NET_MS if net is not None else _NET_IDLE_MS)

    async def main(self):
        asyncio.create_task(self.meter_loop())
        asyncio.create_task(self.net_loop())
        await self.serial_loop()


def run(app, port):
    """Boot has happened; run the loop and the protocol until the process ends."""
    runner = Runner(app, port)
    runner.push_events()  # the boot event
    asyncio.run(runner.main())
