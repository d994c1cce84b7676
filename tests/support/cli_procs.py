"""Real `prepay` CLI processes for kill tests, started cheaply.

An interpreter that imports the CLI takes seconds on the shared 2-core VM, so a test that kills
a service a hundred times forks each run from a multiprocessing *forkserver* that imported the
CLI once: every run is a separate process executing the real verb (`host_tools.cli.main` with
its argv: the click command, `station_command`, the service loop), only without the import
time. The forkserver has no threads of its own (unlike the test process, whose paho and SMTP
threads a plain fork would copy half-way), and SIGKILL reaches the run itself by its pid.

    proc = CliProc("headend", ["headend", "--broker", url], env, log_dir)
    proc.start(); proc.kill(); proc.start(); ...; proc.stop()

`spawn_real(...)` starts the same verb as `python -m host_tools.cli ...` for the runs that must
go through the interpreter's own start-up too.
"""

import multiprocessing
import os
import signal
import subprocess
import sys

PRELOAD = ["host_tools.cli", "host_tools.headend.service", "host_tools.notify.dispatcher"]
_context = None


def _forkserver():
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


def _run_cli(argv, env, log_path):
    """The child: the real `prepay ARGV` in this forked process, output to `log_path`."""
    os.environ.clear()
    os.environ.update(env)
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    from host_tools.cli import main

    main.main(args=list(argv), prog_name="prepay")  # exits (SystemExit) like the command


class CliProc:
    """One role (a service verb) restarted again and again; counts its starts and kills."""

    def __init__(self, name, argv, env, log_dir):
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.log_path = os.path.join(str(log_dir), f"{name}.log")
        self.proc = None
        self.armed = False  # the current run was started with extra environment (a crash point)
        self.starts = 0
        self.kills = 0  # runs that ended by SIGKILL
        self.at_point = 0  # ... of which it sent itself (a crash point) before the test did

    def start(self, **extra_env):
        """Start a new run (with `extra_env` on top of the role's environment)."""
        env = dict(self.env, **extra_env)
        self.armed = bool(extra_env)
        self.proc = _forkserver().Process(
            target=_run_cli, args=(self.argv, env, self.log_path), daemon=True
        )
        self.proc.start()
        self.starts += 1

    def alive(self):
        return self.proc is not None and self.proc.is_alive()

    def kill(self, grace=0.0):
        """SIGKILL the running process (no cleanup at all) and reap it; its exit code (also
        when it died before, e.g. at a crash point that SIGKILLs itself). An armed run first
        gets `grace` seconds to reach its point."""
        if self.armed and grace:
            self.proc.join(grace)
        was_alive = self.proc.is_alive()
        try:
            os.kill(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # already dead and reaped by the forkserver
        self.proc.join(30)
        code = self.proc.exitcode
        self.kills += code == -signal.SIGKILL
        self.at_point += code == -signal.SIGKILL and not was_alive
        self.proc = None
        return code

    def stop(self):
        if self.proc is not None:
            if self.proc.is_alive():
                os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.join(30)
            if self.proc.is_alive():
                self.kill()
            self.proc = None

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


def spawn_real(argv, env, log_path):
    """`python -m host_tools.cli ARGV` as a subprocess.Popen (output appended to log_path)."""
    log = open(log_path, "ab")  # noqa: SIM115 - the child holds it; closed with the Popen
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "host_tools.cli", *argv],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    finally:
        log.close()
