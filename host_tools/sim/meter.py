"""SimMeter: start and stop a simulated meter from Python (tests, HIL suite, `make demo`)."""

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

from host_tools.sim.supervisor import ROOT, SimError


class SimMeter:
    """A `prepay sim` process on `state_dir` (a fresh temporary folder if None).

    `start()` returns the port path; `stop()` ends the supervisor and the firmware. Also a
    context manager. The port stays the same across firmware restarts (power cuts).
    """

    def __init__(
        self,
        state_dir=None,
        speed=0,
        heap=None,
        startup_timeout=20.0,
        watchdog=None,
        micropython=None,
    ):
        self._tmp = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="prepay-sim-")
            state_dir = self._tmp.name
        self.state_dir = str(state_dir)
        self.speed = speed
        self.heap = heap
        self.watchdog = watchdog  # seconds; None: `prepay sim`'s default
        self.micropython = micropython  # None: $PREPAY_MICROPYTHON, else the .venv's
        self.startup_timeout = startup_timeout
        self.proc = None
        self.port = None
        self.info = None

    def start(self):
        """Start the simulator; returns the serial port path once it exists."""
        cmd = [sys.executable, "-m", "host_tools.sim", "--state", self.state_dir, "--json"]
        cmd += ["--speed", str(self.speed)]
        if self.heap:
            cmd += ["--heap", str(self.heap)]
        if self.watchdog is not None:
            cmd += ["--watchdog", str(self.watchdog)]
        if self.micropython:
            cmd += ["--micropython", os.path.abspath(self.micropython)]  # cwd changes below
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, cwd=str(ROOT), env=dict(os.environ)
        )
        line = self._first_line()
        self.info = json.loads(line)
        self.port = self.info["port"]
        return self.port

    def _first_line(self):
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                line = self.proc.stdout.readline()
                if line:
                    return line
            if self.proc.poll() is not None:
                break
        self.stop()
        raise SimError("the simulator did not start within %.0f s" % self.startup_timeout)

    def stop(self):
        """Stop the supervisor (it stops the firmware); safe to call twice."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
