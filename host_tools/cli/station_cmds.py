"""`prepay station init|upgrade|settings|cashier list|sts-key`: set up the vending station and
its STS vending keys, and list its cashiers (who are its users: `prepay user add`).

The station's other verbs each have their module: tariff_cmds, meter_cmds, vend_cmds,
config_cmds, report_cmds, audit_cmds and the management tokens in token_cmds (docs/station.md).
"""

import os

import click

from host_tools.cli.output import emit, json_option
from host_tools.cli.station_access import (
    ADMINS,
    acting_user,
    home_option,
    passphrase_prompt,
    station_command,
)
from host_tools.vending import StationError, db, registry, render


@click.group()
def station():
    """Set up the vending station and its cashiers."""


@station.command("init")
@home_option
@click.option("--db", "db_url", default=None, help="Database URL (default: SQLite in the home).")
@click.option(
    "--key-from", default=None, help="Another station's vending.key (a second station on a DB)."
)
@click.option(
    "--admin", default=None, help="The first admin user's name (default $PREPAY_USER, else admin)."
)
@json_option
def station_init(home_dir, db_url, key_from, admin, as_json):
    """Create the station: encrypted vending key, station.json, the database schema and the
    first admin user: named by --admin or $PREPAY_USER (else "admin"), password from
    $PREPAY_USER_PASSWORD, else prompted twice. The same two variables then log the CLI in."""
    from host_tools.cli.station_access import USER_ENV, USER_PASSWORD_ENV
    from host_tools.cli.user_cmds import create_user, user_password
    from host_tools.vending import users
    from host_tools.vending.station import Station, init_station

    admin = admin or os.environ.get(USER_ENV, "").strip() or "admin"
    try:
        # Asked first, so a refused password leaves nothing behind. A second station on a
        # shared database (--key-from) shares that database's users: no new admin then.
        password = None if key_from else user_password(admin, USER_PASSWORD_ENV)
        root, url = init_station(home_dir, db_url, prompt=passphrase_prompt, key_from=key_from)
        opened = Station(root)
        try:
            if password or not opened.read(users.count_users):
                password = password or user_password(admin, USER_PASSWORD_ENV)
                create_user(opened, admin, "admin", password=password)
            else:
                admin = None
        finally:
            opened.close()
    except StationError as error:
        raise click.ClickException(str(error)) from None
    data = {"home": str(root), "db": db.redact(url), "admin": admin}
    emit(data, as_json, lambda c, d: c.print(f"station ready in {d['home']} (database {d['db']})"))


@station.command("upgrade")
@station_command
def station_upgrade(station):
    """Move the station's database to this prepay's schema (one transaction; a newer schema
    than this prepay's is refused and nothing changes)."""
    from host_tools.vending.upgrade import upgrade

    found, now = upgrade(station)
    if found == now:
        click.echo(f"schema version {now}: already current")
    else:
        click.echo(f"schema version {found} -> {now}: upgraded")


@station.group("cashier")
def cashier_group():
    """Cashiers: the station's users as the ledger sees them (vend limit, may approve)."""


@cashier_group.command(
    "add",
    hidden=True,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.pass_context
def cashier_add(ctx):
    """Gone: a cashier is a user (`prepay user add`)."""
    raise click.ClickException(
        "`station cashier add` is gone: cashiers are users now; "
        "use `prepay user add NAME --role cashier|supervisor [--limit AMOUNT]`"
    )


@cashier_group.command("list")
@json_option
@station_command
def cashier_list(station, as_json):
    """List cashiers: every user's vend limit and right to approve (`prepay user list` shows
    the same people with their roles), and the API channels' supervisor approvers."""
    rows = station.read(registry.list_cashiers)
    emit(rows, as_json, lambda c, d: c.print(render.rows_table("Cashiers", d)))


@station.command("settings")
@click.option("--utility", default=None, help="Utility name printed on receipts.")
@click.option("--address", default=None, help="Utility address printed on receipts.")
@click.option("--tax-id", default=None, help="Tax registration number printed on receipts.")
@click.option(
    "--tz", default=None, help="Time zone for receipts and reports, e.g. Africa/Nairobi."
)
@json_option
@station_command
def station_settings(station, utility, address, tax_id, tz, as_json):
    """Show or set what receipts print: utility name, address, tax id and time zone. Showing
    needs no login; setting them, an admin's."""
    from host_tools.vending import settings

    changes = {"utility_name": utility, "address": address, "tax_id": tax_id, "timezone": tz}
    if any(value is not None for value in changes.values()):
        acting_user(station, ADMINS, "changing the station settings")
    now = settings.update(station.home, changes)
    rows = [(k.replace("_", " "), v or "(not set)") for k, v in now.items()]
    emit(now, as_json, lambda c, d: c.print(render.kv_table("Station settings", rows)))


@station.group("sts-key")
def sts_key_group():
    """The station's STS vending keys (DKGA02, DKGA04), sealed like the v1 vending key."""


_dkga_option = click.option(
    "--dkga", required=True, type=click.Choice(("02", "04")), help="Which key derivation."
)


@sts_key_group.command("import")
@_dkga_option
@click.option("--key-file", required=True, help="File holding the key as hex digits.")
@json_option
@station_command
def sts_key_import(station, dkga, key_file, as_json):
    """Seal a utility's STS vending key into the station home (the file is not changed;
    delete it when done). The key is never printed. As the logged-in admin."""
    acting_user(station, ADMINS, "an STS vending key")
    from host_tools.vending import sts_keys

    done = sts_keys.store(station, int(dkga), sts_keys.read_hex_file(key_file, int(dkga)))
    emit(
        done,
        as_json,
        lambda c, d: c.print(f"DKGA{d['dkga']} STS vending key sealed in {d['file']}"),
    )


@sts_key_group.command("generate")
@_dkga_option
@json_option
@station_command
def sts_key_generate(station, dkga, as_json):
    """Make a fresh random STS vending key (a supply group of our own), as the logged-in
    admin."""
    acting_user(station, ADMINS, "an STS vending key")
    from host_tools.vending import sts_keys

    done = sts_keys.generate(station, int(dkga))
    emit(
        done,
        as_json,
        lambda c, d: c.print(f"DKGA{d['dkga']} STS vending key sealed in {d['file']}"),
    )


@sts_key_group.command("list")
@json_option
@station_command
def sts_key_list(station, as_json):
    """Which STS vending keys the station holds (never the keys)."""
    from host_tools.vending import sts_keys

    rows = sts_keys.describe(station)
    emit(rows, as_json, lambda c, d: c.print(render.rows_table("STS vending keys", d)))


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(station)
