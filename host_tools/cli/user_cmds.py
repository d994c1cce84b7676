"""`prepay user add|list|unlock`: the station's users (web logins and cashier ids: one model).

The password comes from $PREPAY_USER_PASSWORD when set, else it is prompted for twice; it is
hashed with argon2id and never printed.
"""

import os

import click

from host_tools.cli.output import emit, json_option
from host_tools.cli.station_access import station_command
from host_tools.vending import render, users
from host_tools.vending.money import parse_amount

PASSWORD_ENV = "PREPAY_USER_PASSWORD"


def user_password(name):
    """The new user's password: $PREPAY_USER_PASSWORD, else asked twice (hidden)."""
    password = os.environ.get(PASSWORD_ENV)
    if not password:
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
    """The station's users: cashiers, supervisors and admins (web logins)."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(users.ROLES), required=True)
@click.option("--limit", "limit_text", default=None, help="Largest single vend (default: the "
              "station's default_cashier_limit).")  # fmt: skip
@station_command
def user_add(station, name, role, limit_text):
    """Add a user (password from $PREPAY_USER_PASSWORD, else prompted twice)."""
    added = create_user(station, name, role, limit_text)
    click.echo(f"user {added} added as {role}")


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
    """Lift a login lock on a user's account (after too many failed logins)."""
    station.write(lambda conn: users.unlock(conn, name))
    click.echo(f"user {name} unlocked")


def register(main):
    main.add_command(user)
