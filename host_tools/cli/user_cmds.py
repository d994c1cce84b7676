"""`prepay user add|set|list|unlock`: the station's users (web logins and cashier ids: one model).

Changing users is an admin's: the verbs log in as the acting user ($PREPAY_USER and
$PREPAY_USER_PASSWORD, else asked; station_access.acting_user). A new user's password comes from
$PREPAY_NEW_USER_PASSWORD when set, else it is prompted for twice; it is hashed with argon2id and
never printed. (`station init` is the exception: its first admin's password is
$PREPAY_USER_PASSWORD, the one that then logs the CLI in.)
"""

import os
import sys

import click

from host_tools.cli.output import emit, json_option
from host_tools.cli.station_access import ADMINS, acting_user, station_command
from host_tools.vending import StationError, render, users
from host_tools.vending.money import parse_amount

NEW_PASSWORD_ENV = "PREPAY_NEW_USER_PASSWORD"
_limit_help = "Largest single vend (default: the station's default_cashier_limit)."


def user_password(name, env=NEW_PASSWORD_ENV):
    """The new user's password: $`env`, else asked twice (hidden)."""
    password = os.environ.get(env)
    if not password:
        if not sys.stdin.isatty():  # getpass would warn and read the password from a pipe
            raise StationError(f"no terminal to ask for {name}'s password: set {env}")
        password = click.prompt(
            f"Password for {name}", hide_input=True, confirmation_prompt=True, err=True
        )
    return users.check_password(password)


def create_user(station, name, role, limit_text=None, password=None):
    """Add a user with a password from the environment or the prompt; returns its name."""
    password = password or user_password(name)
    limit = (
        parse_amount(limit_text, "--limit")
        if limit_text is not None
        else station.config["default_cashier_limit"]
    )
    stamp = station.stamp()
    return station.write(lambda conn: users.add_user(conn, name, role, password, stamp, limit))


@click.group("user")
def user():
    """The station's users: cashiers, supervisors and admins (web logins and CLI logins)."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(users.ROLES), required=True)
@click.option("--limit", "limit_text", default=None, help=_limit_help)
@station_command
def user_add(station, name, role, limit_text):
    """Add a user, as the logged-in admin (the new password from $PREPAY_NEW_USER_PASSWORD,
    else prompted twice)."""
    acting_user(station, ADMINS, "adding a user")
    added = create_user(station, name, role, limit_text)
    click.echo(f"user {added} added as {role}")


@user.command("set")
@click.argument("name")
@click.option("--role", type=click.Choice(users.ROLES), default=None, help="A new role.")
@click.option("--limit", "limit_text", default=None, help="A new largest single vend.")
@station_command
def user_set(station, name, role, limit_text):
    """Change a user's role or vend limit, as the logged-in admin."""
    if role is None and limit_text is None:
        raise click.ClickException("give --role, --limit or both")
    acting_user(station, ADMINS, "changing a user")
    limit = None if limit_text is None else parse_amount(limit_text, "--limit")

    def work(conn):
        if role is not None:
            users.set_role(conn, name, role)
        if limit is not None:
            users.set_vend_limit(conn, name, limit)

    station.write(work)
    click.echo(f"user {name} changed")


@user.command("list")
@json_option
@station_command
def user_list(station, as_json):
    """List users with their roles and vend limits (never their password hashes)."""
    rows = station.read(users.list_users)
    emit(rows, as_json, lambda c, d: c.print(render.rows_table("Users", d)))


@user.command("unlock")
@click.argument("name")
@station_command
def user_unlock(station, name):
    """Lift a login lock on a user's account (after too many failed logins), as the logged-in
    admin."""
    acting_user(station, ADMINS, "unlocking a user")
    station.write(lambda conn: users.unlock(conn, name))
    click.echo(f"user {name} unlocked")


def register(main):
    main.add_command(user)
