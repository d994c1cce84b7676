"""What every verb that works on the vending station shares: `--home`, the passphrase prompt,
`station_command`, which opens the station and turns its errors into one line, and the login
of the user a state-changing verb acts as (`acting_user`, `approving_supervisor`)."""

import functools
import getpass
import os
import sys

import click
from sqlalchemy import exc as sa_exc

from host_tools.cli.output import emit
from host_tools.vending import StationError, db, render, users

home_option = click.option(
    "--home", "home_dir", default=None, help="Station home (default $PREPAY_HOME, else per-user)."
)


def passphrase_prompt(confirm):
    if not sys.stdin.isatty():  # getpass would warn and read the passphrase from a pipe
        raise StationError("no terminal to ask for the passphrase: set PREPAY_PASSPHRASE")
    return click.prompt(
        "Vending key passphrase", hide_input=True, confirmation_prompt=confirm, err=True
    )


def station_command(func):
    """Open the station named by --home, pass it as `station`, turn errors into one line."""

    @functools.wraps(func)
    def wrapper(*args, home_dir=None, **kwargs):
        from host_tools.vending.station import Station

        station = None
        try:
            station = Station(home_dir, prompt=passphrase_prompt)
            return func(station, *args, **kwargs)
        except StationError as error:
            raise click.ClickException(str(error)) from None
        except sa_exc.SQLAlchemyError as error:
            url = station.url if station else ""
            raise click.ClickException(str(db.connect_error(url, error))) from None
        finally:
            if station is not None:
                station.close()

    return home_option(wrapper)


def print_receipt(receipt, as_json, station=None):
    """A receipt; with the station, its header (utility, address, tax id) and local time."""
    if station is not None:
        from host_tools.vending.settings import for_print

        receipt = for_print(station.config, station.tz, receipt)
    emit(receipt, as_json, render.receipt)


# ---- who is acting: the CLI logs in like the web app (docs/station.md, "Who is acting") ------

USER_ENV, USER_PASSWORD_ENV = "PREPAY_USER", "PREPAY_USER_PASSWORD"
SUPERVISOR_ENV, SUPERVISOR_PASSWORD_ENV = "PREPAY_SUPERVISOR", "PREPAY_SUPERVISOR_PASSWORD"
ANYONE = users.ROLES
APPROVERS = ("supervisor", "admin")  # may approve reversals, write-offs, large arrears
ADMINS = ("admin",)


def cli_address():
    """The throttling 'address' of a CLI login: the OS account, so one clerk's typos lock
    that account's terminal, not every CLI user of the station."""
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return f"cli:uid{os.getuid()}"


def _log_in(station, name_env, password_env, who):
    """The user row for the credentials in the environment, else asked on the terminal."""
    name = os.environ.get(name_env, "").strip()
    password = os.environ.get(password_env, "") if name else ""
    if not password:
        if not sys.stdin.isatty():  # getpass would read a pipe; a script sets the variables
            raise StationError(f"{who} not logged in: set {name_env} and {password_env}")
        asked = "User name" if who == "user" else f"{who.capitalize()}'s user name"
        name = name or click.prompt(asked, err=True).strip()
        password = click.prompt(f"Password for {name}", hide_input=True, err=True)
    return users.authenticate(station, name, password, cli_address())


def _require_role(user, roles, what):
    if user.role not in roles:
        needed = " or ".join(roles)
        article = "an" if needed[0] in "aeiou" else "a"
        raise StationError(f"{user.name} is a {user.role}: {what} needs {article} {needed}")
    return user


def acting_user(station, roles=ANYONE, what="this"):
    """The logged-in user a state-changing verb acts as ($PREPAY_USER/$PREPAY_USER_PASSWORD,
    else a prompt): its name is the ledger's cashier id. Throttled like the web login; a
    wrong password, a lock, a disabled account or a role short of `roles` is a one-line
    error before anything is written."""
    return _require_role(_log_in(station, USER_ENV, USER_PASSWORD_ENV, "user"), roles, what)


def approving_supervisor(station, acting, what, required=True):
    """Who approves `what`: $PREPAY_SUPERVISOR (password $PREPAY_SUPERVISOR_PASSWORD or
    asked), else the acting user when a supervisor or admin (as on the web app), else one
    asked on the terminal. Not `required` and nobody named: "" (the domain decides)."""
    named = os.environ.get(SUPERVISOR_ENV, "").strip()
    if named == acting.name:
        return _require_role(acting, APPROVERS, what).name
    if not named and acting.role in APPROVERS:
        return acting.name
    if not named and not required:
        return ""
    boss = _log_in(station, SUPERVISOR_ENV, SUPERVISOR_PASSWORD_ENV, "supervisor")
    return _require_role(boss, APPROVERS, what).name


def _refuse_retired(ctx, param, value):
    if value is not None:
        name = param.opts[0]
        if name == "--supervisor":
            raise click.ClickException(
                "--supervisor is no longer accepted: a supervisor approves by logging in; "
                f"set {SUPERVISOR_ENV} and {SUPERVISOR_PASSWORD_ENV}"
            )
        raise click.ClickException(
            f"{name} is no longer accepted: the CLI acts as the logged-in user; "
            f"set {USER_ENV} and {USER_PASSWORD_ENV}"
        )


def retired_options(*names):
    """Hidden --cashier/--supervisor that refuse with a one-line message (old scripts get told
    what to do instead of 'no such option')."""

    def decorate(command):
        for name in names:
            command = click.option(
                name, hidden=True, default=None, expose_value=False, callback=_refuse_retired
            )(command)
        return command

    return decorate
