"""Logging the `prepay` CLI in for tests: its state-changing verbs act as the user named by
$PREPAY_USER/$PREPAY_USER_PASSWORD (host_tools/cli/station_access.py), as a clerk would.

Every test station's users share one password (`station init` makes the first admin with
$PREPAY_USER_PASSWORD, `user add` the others with $PREPAY_NEW_USER_PASSWORD), so acting as
another user is only `as_user(name)` for CliRunner's `env`.
"""

from argon2 import PasswordHasher
from click.testing import CliRunner

from host_tools.cli import main
from host_tools.vending import users


def log_in(monkeypatch, password, user="admin"):
    """The CLI acts as `user` (the first admin by default); new users get `password` too, and
    so does a supervisor named by `approved_by`. Cheap argon2 parameters: every CLI verb now
    verifies a password."""
    monkeypatch.setenv("PREPAY_USER", user)
    for name in ("PREPAY_USER_PASSWORD", "PREPAY_NEW_USER_PASSWORD", "PREPAY_SUPERVISOR_PASSWORD"):
        monkeypatch.setenv(name, password)
    monkeypatch.delenv("PREPAY_SUPERVISOR", raising=False)
    monkeypatch.setattr(users, "hasher", PasswordHasher(time_cost=1, memory_cost=1024))


def as_user(name, password=None):
    """CliRunner `env` acting as `name` (with the shared password unless given)."""
    env = {"PREPAY_USER": name}
    if password is not None:
        env["PREPAY_USER_PASSWORD"] = password
    return env


def approved_by(name, password=None):
    """CliRunner `env` adding a supervisor's approval."""
    env = {"PREPAY_SUPERVISOR": name}
    if password is not None:
        env["PREPAY_SUPERVISOR_PASSWORD"] = password
    return env


def add_logins(station, password, **roles):
    """Users for a station built in Python (tests/vending/vending_setup.make_station has cashier
    rows and no users): each adopts its cashier row, as `user add` does."""
    stamp = station.stamp()

    def work(conn):
        for name, role in roles.items():
            users.add_user(conn, name, role, password, stamp, 100_000)

    station.write(work)


def run(home, *args, code=0, env=None):
    """`prepay ARGS --home HOME` in-process; its output. A refusal (`code` != 0) must be one
    line starting with "Error: " (bad input gets a clear one-line error)."""
    result = CliRunner().invoke(main, [*args, "--home", home], env=env, catch_exceptions=False)
    assert result.exit_code == code, result.output
    if code:
        assert result.output.startswith("Error: ") and result.output.count("\n") == 1, args
    return result.output
