"""`prepay config sign|applied`: a meter's signed configuration, built from the registry, checked
against the schema the meter enforces and compared with the last one (docs/station.md)."""

import click

from host_tools.cli.output import emit, json_option
from host_tools.cli.station_access import (
    APPROVERS,
    acting_user,
    print_receipt,
    retired_options,
    station_command,
)


@click.group("config")
def config_group():
    """Signed configuration blobs for meters."""


@config_group.command("sign")
@click.argument("meter_number")
@click.option(
    "--file", "path", default=None, help="Hand-written JSON object laid over the built config."
)
@click.option("--dry-run", is_flag=True, help="Show the config and what changes; sign nothing.")
@click.option(
    "--remove-never-disconnect",
    is_flag=True,
    help="On purpose: let a critical customer's meter disconnect (needs --confirm, --reason).",
)
@click.option("--confirm", default=None, help="The meter number typed out again.")
@click.option("--reason", default="", help="Why never-disconnect is removed (audit chain).")
@retired_options("--cashier")
@json_option
@station_command
def config_sign(
    station,
    meter_number,
    path,
    dry_run,
    remove_never_disconnect,
    confirm,
    reason,
    as_json,
):
    """Sign METER_NUMBER's config (tariff, never-disconnect, the station's defaults), as the
    logged-in supervisor or admin (a --dry-run needs no login)."""
    from host_tools.vending import mgmt

    cashier = "" if dry_run else acting_user(station, APPROVERS, "signing a config").name
    overlay = None if path is None else mgmt.load_config_file(path)
    r = mgmt.sign(
        station,
        meter_number,
        overlay,
        cashier,
        remove_never_disconnect=remove_never_disconnect,
        confirm=confirm,
        reason=reason,
        dry_run=dry_run,
    )
    if dry_run:
        emit(r, as_json, "\n".join(r["changes"]) or "no change from the last signed config")
        return
    print_signed_config(r, as_json, station)


def print_signed_config(r, as_json, station):
    """A signed config's receipt (its Changes row lists what differs from the last config)
    and, for a person, how it reaches the meter (the web's never-disconnect page says the same).
    Shared by `config sign` and `meter critical`."""
    print_receipt(r, as_json, station)
    if as_json:
        return
    meter, counter = r["meter"], r["counter"]
    click.echo(
        f"How it reaches the meter: every sale's receipt for meter {meter} prints config "
        f"{counter} until it is recorded with `prepay config applied {meter} {counter}`; or an "
        "engineer loads it at the meter with `prepay device config BLOB --port PORT` (the line "
        "above), then records it."
    )


@config_group.command("applied")
@click.argument("meter_number")
@click.argument("counter", type=click.IntRange(min=1))
@retired_options("--cashier")
@json_option
@station_command
def config_applied(station, meter_number, counter, as_json):
    """Record that the meter applied config COUNTER (`prepay device config` shows it), as the
    logged-in supervisor or admin."""
    from host_tools.vending import mgmt

    cashier = acting_user(station, APPROVERS, "recording a config").name
    print_receipt(mgmt.config_applied(station, meter_number, counter, cashier), as_json, station)


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(config_group)
