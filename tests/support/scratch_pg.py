"""A throw-away PostgreSQL cluster for tests and benchmarks (never for a real station).

Finds Debian's server binaries (/usr/lib/postgresql/*/bin), installing the `postgresql` package
with apt-get when they are missing and we are root; initdb runs as the `postgres` user (initdb
refuses root) in a temporary directory; the server listens on a free 127.0.0.1 port and a socket
in that directory. `with ScratchPostgres() as pg: pg.url` yields a postgresql:// URL.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile

DB_NAME = "prepay"


class ScratchUnavailable(RuntimeError):
    """PostgreSQL cannot be installed or started here (the message says why)."""


def _run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kwargs)


def find_bindir(install=True):
    """The newest /usr/lib/postgresql/N/bin with initdb; installs the package if allowed."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    if candidates:
        return os.path.dirname(candidates[-1])
    if not install:
        raise ScratchUnavailable("PostgreSQL server binaries not found in /usr/lib/postgresql")
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ScratchUnavailable(
            "PostgreSQL is not installed and apt-get (as root) is unavailable"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
        done = _run(cmd, env=env)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
            raise ScratchUnavailable(f"{' '.join(cmd)} failed: {' '.join(tail)}")
    return find_bindir(install=False)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ScratchPostgres:
    """Start on enter, stop and delete on exit. Settings favour speed of start-up, not tuning."""

    def __init__(self, max_connections=100, settings=None):
        self.max_connections = max_connections
        self.settings = dict(settings or {})  # more postgresql.conf settings (name: value)
        self.dir = None
        self.url = None

    def _tool(self, bindir, name, *args):
        """Run a server tool as the `postgres` user (initdb and pg_ctl refuse root)."""
        cmd = [os.path.join(bindir, name), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return _run(cmd)

    def start(self):
        bindir = self._bindir = find_bindir()
        self.dir = tempfile.mkdtemp(prefix="prepay-pg-")
        self._data = data = os.path.join(self.dir, "data")
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o755)
        init = self._tool(
            bindir,
            "initdb",
            "-D",
            data,
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-instructions",
        )
        if init.returncode != 0:
            self.stop()
            raise ScratchUnavailable("initdb failed: " + init.stderr.strip()[-300:])
        self.port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} "
            f"-c max_connections={self.max_connections} -c shared_buffers=128MB"
        )
        options += "".join(f" -c {name}={value}" for name, value in self.settings.items())
        log = os.path.join(self.dir, "log")
        start = self._tool(
            bindir, "pg_ctl", "-D", data, "-o", options, "-w", "-t", "60", "-l", log, "start"
        )
        if start.returncode != 0:
            detail = (start.stderr + self._log_tail())[-400:]
            self.stop()
            raise ScratchUnavailable("PostgreSQL did not start: " + detail)
        create = self._tool(
            bindir, "createdb", "-h", self.dir, "-p", str(self.port), "-U", "postgres", DB_NAME
        )
        if create.returncode != 0:
            self.stop()
            raise ScratchUnavailable("createdb failed: " + create.stderr.strip()[-300:])
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/{DB_NAME}"
        return self.url

    def cpu_seconds(self):
        """CPU time the server has used so far (postmaster, live processes and reaped backends):
        the bench divides it by the vends to show the server's share of a vend."""
        with open(os.path.join(self._data, "postmaster.pid")) as pid_file:
            postmaster = int(pid_file.readline())
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # exited meanwhile
            pid, ppid = int(entry), int(fields[1])
            if pid == postmaster:  # its own time plus its reaped children's (cutime, cstime)
                total += sum(int(f) for f in fields[11:15])
            elif ppid == postmaster:
                total += int(fields[11]) + int(fields[12])
        return total / ticks

    def _log_tail(self):
        try:
            with open(os.path.join(self.dir, "log")) as log:
                return log.read()[-400:]
        except OSError:
            return ""

    def stop(self):
        if self.dir is None:
            return
        if os.path.exists(os.path.join(self._data, "postmaster.pid")):
            self._tool(self._bindir, "pg_ctl", "-D", self._data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()
        return False
