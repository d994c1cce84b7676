"""`prepay sim`: the firmware on the MicroPython unix port behind a pseudo-terminal.

Two pseudo-terminals, so the port a client opens never changes:

    client -> /dev/pts/A (slave: the published port)
              pty A master <- this process relays bytes -> pty B master
                                                           pty B slave: micropython's stdio

The supervisor also plays the board's watchdog timer: the firmware's feeds reach the `watchdog`
file in the state folder, and a firmware that stops feeding for `watchdog` seconds is killed (a
reset writes nothing more, like a power cut) and started again.

The firmware can restart (after `sim.power_cut`, a watchdog reset or a crash) on a fresh pty B
while pty A stays open: bytes the client sends meanwhile are held and delivered to the new
firmware once it runs, so the client sees one continuous stream: the power-cut response, then a
`boot` event line, then answers to whatever it sent during the restart.
"""

import errno
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import tty
from pathlib import Path

import host_tools
from host_tools.sim import boot_select, preflight
from token_spec.meter_link import POWER_CUT_EXIT, WATCHDOG_FILE, WATCHDOG_MS

ROOT = Path(host_tools.__file__).resolve().parent.parent
DEFAULT_WATCHDOG_S = WATCHDOG_MS / 1000  # the boards' default, in the seconds `--watchdog` takes
# Output waiting for a client is capped: with nobody reading, old lines are dropped.
MAX_CLIENT_BACKLOG = 256 * 1024
# After forwarding a `sim.power_cut` request, hold further input until the firmware has exited
# (bytes written to a dying firmware's pty would be lost) or this many seconds have passed.
POWER_CUT_HOLD = 3.0
_POWER_CUT = b"sim.power_cut"
# A firmware that dies this many times within CRASH_WINDOW seconds is not restarted again.
CRASH_LIMIT = 5
CRASH_WINDOW = 30.0
RESET_EXIT = 76  # firmware/hal/sim.py: a reset the firmware asked for (after a field update)


class SimError(Exception):
    """The simulator cannot start or keeps crashing; the message says why."""


def find_micropython():
    """$PREPAY_MICROPYTHON, else `micropython` next to this interpreter (the project's .venv),
    else from PATH."""
    chosen = os.environ.get("PREPAY_MICROPYTHON")
    if chosen:
        return chosen
    candidate = Path(sys.executable).parent / "micropython"
    if candidate.exists():
        return str(candidate)
    from shutil import which

    found = which("micropython")
    if not found:
        raise SimError("micropython not found next to %s or on PATH" % sys.executable)
    return found


def _raw_pty():
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    return master, slave


def _set_parent_death_signal():
    # Linux: the firmware gets SIGTERM if the supervisor dies without cleaning up.
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Supervisor:
    """Owns the published pty, runs the firmware and relays; `run()` blocks until `stop()`."""

    def __init__(
        self,
        state_dir,
        speed="1",
        heap=None,
        micropython=None,
        log=None,
        mpy=None,
        watchdog=DEFAULT_WATCHDOG_S,
    ):
        self.state_dir = str(Path(state_dir).resolve())
        problem = preflight.check_heap(heap)
        if problem:
            raise SimError(problem)
        self.speed = speed
        self.heap = heap
        self.watchdog = watchdog  # seconds without a feed before a reset; 0 = no watchdog
        self._heartbeat = Path(self.state_dir, WATCHDOG_FILE)
        self._started_at = 0.0
        self._watchdog_reset = False
        # Run mpy-cross output like a board does; a small heap needs it (compiling source
        # takes far more memory than running bytecode).
        self.mpy = bool(heap) if mpy is None else mpy
        self._build = None
        self.micropython = micropython or find_micropython()
        if os.sep in self.micropython:  # the firmware runs in the state folder
            self.micropython = os.path.abspath(self.micropython)
        self.log = log or (lambda msg: print("prepay sim: " + msg, file=sys.stderr, flush=True))
        # An interpreter with the meter frozen in (`make firmware`) runs its frozen copy and
        # nothing from the checkout: .py or .mpy files on its path would shadow it.
        self.frozen = self._probe_frozen()
        # Last of the checks, so a refused option or interpreter leaves no state folder behind.
        self._state_lock, problem = preflight.lock_state(self.state_dir)
        if problem:
            raise SimError(problem)
        self.master, self._slave = _raw_pty()  # keep the slave open: no EIO between clients
        self.port = os.ttyname(self._slave)
        self.child = None
        self.slot = None  # the app slot the firmware runs from (boot_select)
        self._trial = False  # that slot runs for the first time after an update
        self._fw_master = None
        self._to_fw = bytearray()
        self._to_client = bytearray()
        self._stopping = False
        self._hold_until = 0.0
        self._crashes = []
        self.restarts = 0

    # ---- firmware process -----------------------------------------------------------------
    def start_firmware(self):
        """Spawn micropython on a fresh pty B."""
        Path(self.state_dir).mkdir(parents=True, exist_ok=True)
        self._heartbeat.unlink(missing_ok=True)  # a feed from the last run does not count
        self._started_at = time.time()
        self._watchdog_reset = False
        master, slave = _raw_pty()
        # stdin gets its own non-blocking open file description so the firmware can read
        # whatever has arrived in one call; stdout stays blocking so no output is lost.
        stdin = os.open(os.ttyname(slave), os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY)
        env = dict(os.environ)
        # The simulated bootloader picks the app slot (host_tools/sim/boot_select.py): an
        # updated slot's modules come before .frozen, so they win on a frozen interpreter too.
        self.slot = boot_select.boot_slot(self.state_dir)
        slot_code = boot_select.slot_code(self.state_dir, self.slot)
        self._trial = boot_select.on_trial(self.state_dir, self.slot)
        # .frozen holds asyncio, and in a frozen build the meter and umqtt too (then nothing
        # else). Otherwise umqtt.simple (host_tools/build/mplib.py) comes from the code folder
        # when compiled (beside the meter), else from the library folder; an updated slot
        # replaces the checkout's code but not the library (a board's /lib stays).
        lib = "" if self.frozen else ":" + str(self._lib_dir())
        if slot_code:
            path = slot_code + ":.frozen" + lib
        elif self.frozen:
            path = ".frozen"
        else:
            path = ".frozen:" + self._code_dir() + ("" if self.mpy else lib)
        env.update(
            MICROPYPATH=path,
            PREPAY_SIM_STATE=self.state_dir,
            PREPAY_SIM_SPEED=str(self.speed),
            PREPAY_SIM_SLOT=self.slot,
        )
        cmd = [self.micropython]
        if self.heap:
            cmd += ["-X", "heapsize=" + self.heap]
        cmd += ["-m", "firmware.main"]
        try:
            self.child = subprocess.Popen(
                cmd,
                stdin=stdin,
                stdout=slave,
                cwd=self.state_dir,
                env=env,
                preexec_fn=_set_parent_death_signal,
            )
        finally:
            os.close(stdin)
            os.close(slave)
        self._fw_master = master
        self._hold_until = 0.0

    def _probe_frozen(self):
        from host_tools.build.interpreter import BuildError, has_frozen_firmware, newer_sources

        try:
            frozen = has_frozen_firmware(self.micropython)
        except BuildError as exc:
            raise SimError(str(exc)) from None
        stale = frozen and newer_sources(
            self.micropython, [ROOT / "firmware", ROOT / "token_spec", ROOT / "build" / "mplib"]
        )
        if stale:
            self.log(
                "%s has the meter frozen in and runs that copy; %d source(s) changed since it "
                "was built (%s): `make firmware` rebuilds it"
                % (self.micropython, len(stale), stale[0])
            )
        return frozen

    def _code_dir(self):
        if not self.mpy:
            return str(ROOT)
        if self._build is None:
            from host_tools.build.mpy import CompileError, compile_file, source_files

            self._build = tempfile.TemporaryDirectory(prefix="prepay-sim-mpy-")
            # umqtt in the same folder: one more MICROPYPATH entry costs every import a lookup
            # and the PyPI interpreter's bounded heap its margin (tests/sim/test_sim_heap_cli.py).
            lib = self._lib_dir()
            sources = [
                (src, ROOT) for src in source_files([ROOT / "firmware", ROOT / "token_spec"])
            ]
            sources += [(src, lib) for src in source_files([lib])]
            try:
                for src, base in sources:
                    out = Path(self._build.name, src.relative_to(base).with_suffix(".mpy"))
                    compile_file(src, out)
            except CompileError as exc:
                raise SimError("mpy-cross failed: %s" % exc) from None
        return self._build.name

    def _lib_dir(self):
        """The MicroPython libraries from PyPI (build/mplib), fetched if missing."""
        from host_tools.build.mplib import LibraryError, ensure

        try:
            return ensure()
        except LibraryError as exc:
            raise SimError(str(exc)) from None

    def _firmware_ended(self):
        """Collect the last output of an exited firmware, then restart it (or give up)."""
        self._drain_firmware()
        os.close(self._fw_master)
        self._fw_master = None
        code = self.child.wait()
        self.child = None
        if self._stopping:
            return
        if code == POWER_CUT_EXIT:
            self.log("power cut: restarting the firmware on %s" % self.state_dir)
        elif code == RESET_EXIT:
            self.log("reset: restarting the firmware on %s" % self.state_dir)
        elif self._watchdog_reset:
            self.log("watchdog reset: restarting the firmware on %s" % self.state_dir)
        else:
            now = time.monotonic()
            self._crashes = [t for t in self._crashes if now - t < CRASH_WINDOW] + [now]
            if len(self._crashes) >= CRASH_LIMIT:
                raise SimError(
                    "firmware exited %d times in %d s (last status %d); not restarting"
                    % (CRASH_LIMIT, CRASH_WINDOW, code)
                )
            self.log("firmware exited with status %d: restarting it" % code)
        self.restarts += 1
        self.start_firmware()

    def _check_watchdog(self):
        """Reset a firmware that stopped feeding the watchdog for `watchdog` seconds.

        Like the ESP32 HAL's timer, it starts at the first feed (boot may take its time).
        """
        if not self.watchdog or self.child is None or self._watchdog_reset:
            return
        try:
            fed = self._heartbeat.stat().st_mtime
        except FileNotFoundError:
            if not self._trial:
                return
            fed = self._started_at  # a slot on trial must feed to be kept (boot_select)
        starved = time.time() - max(fed, self._started_at)
        if starved > self.watchdog:
            self.log("watchdog: no feed for %.1f s" % starved)
            self._watchdog_reset = True
            self.child.kill()  # a reset: the firmware writes nothing more

    def _drain_firmware(self):
        while True:
            try:
                data = os.read(self._fw_master, 65536)
            except OSError:  # EIO: every slave fd is closed, nothing more to read
                return
            if not data:
                return
            self._queue_for_client(data)

    # ---- relay ---------------------------------------------------------------------------
    def _queue_for_client(self, data):
        self._to_client += data
        excess = len(self._to_client) - MAX_CLIENT_BACKLOG
        if excess > 0:  # nobody is reading: drop the oldest whole lines
            cut = self._to_client.find(b"\n", excess)
            del self._to_client[: len(self._to_client) if cut < 0 else cut + 1]

    def _pump(self, timeout):
        fw = self._fw_master
        readers = [self.master] + ([fw] if fw is not None else [])
        writers = []
        if self._to_client:
            writers.append(self.master)
        if self._to_fw and fw is not None and time.monotonic() >= self._hold_until:
            writers.append(fw)
        try:
            readable, writable, _ = select.select(readers, writers, [], timeout)
        except InterruptedError:
            return
        if self.master in readable:
            try:
                self._to_fw += os.read(self.master, 65536)
            except BlockingIOError:
                pass
        if fw is not None and fw in readable:
            try:
                data = os.read(fw, 65536)
            except BlockingIOError:
                data = None
            except OSError:
                data = b""
            if data:
                self._queue_for_client(data)
        if self.master in writable:
            self._write(self.master, self._to_client)
        if fw is not None and fw in writable:
            self._forward()

    def _forward(self):
        """Write client bytes to the firmware, stopping after a power-cut request line."""
        buf = self._to_fw
        cut = buf.find(_POWER_CUT)
        end = buf.find(b"\n", cut) if cut >= 0 else -1
        if end < 0:
            self._write(self._fw_master, buf)
            return
        head = buf[: end + 1]
        self._write(self._fw_master, head)
        del buf[: end + 1 - len(head)]
        if not head:
            self._hold_until = time.monotonic() + POWER_CUT_HOLD

    @staticmethod
    def _write(fd, buf):
        try:
            sent = os.write(fd, buf[:16384])
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise
            return
        del buf[:sent]

    def run(self):
        """Relay until `stop()` (or a signal handler calling it); restarts the firmware."""
        if self.child is None:
            self.start_firmware()
        while not self._stopping:
            self._pump(0.05)
            self._check_watchdog()
            if self.child is not None and self.child.poll() is not None:
                self._firmware_ended()
        self._shutdown()

    def stop(self, *_):
        """Ask `run()` to end (safe from a signal handler)."""
        self._stopping = True

    def _shutdown(self):
        if self.child is not None:
            self.child.terminate()
            try:
                self.child.wait(5)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait()
            self.child = None
        if self._fw_master is not None:
            os.close(self._fw_master)
            self._fw_master = None
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
        if self._build is not None:
            self._build.cleanup()
        preflight.unlock_state(self._state_lock)
        self._state_lock = None


def serve(
    state_dir, speed="1", heap=None, announce=None, watchdog=DEFAULT_WATCHDOG_S, micropython=None
):
    """Run a simulated meter in the foreground until SIGINT/SIGTERM; `announce(info)` is called
    once the port exists with {"port", "pid", "firmware_pid", "state", "micropython", "frozen"}."""
    sup = Supervisor(state_dir, speed=speed, heap=heap, watchdog=watchdog, micropython=micropython)
    signal.signal(signal.SIGTERM, sup.stop)
    signal.signal(signal.SIGINT, sup.stop)
    sup.start_firmware()
    if announce:
        announce(
            {
                "port": sup.port,
                "pid": os.getpid(),
                "firmware_pid": sup.child.pid,
                "state": sup.state_dir,
                "micropython": sup.micropython,
                "frozen": sup.frozen,
            }
        )
    sup.run()
    return sup
