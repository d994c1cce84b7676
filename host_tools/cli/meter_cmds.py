"""`prepay meter add|list|show|set-tariff|arrears`: the station's meter registry.

Putting a meter's settings into the meter itself is `prepay device provision` (device_cmds).
"""

import click

from host_tools.cli.output import emit, json_option
from host_tools.cli.station_access import print_receipt, station_command
from host_tools.vending import registry, render


@click.group()
def meter():
    """The meter registry."""


@meter.command("add")
@click.argument("number")
@click.option("--unit", type=click.Choice(registry.UNITS), required=True, help="Register unit.")
@click.option("--scale", type=int, required=True, help="Register units per currency unit or kWh.")
@click.option("--imp-per-kwh", type=int, required=True, help="Meter constant (pulses per kWh).")
@click.option("--tariff", "tariff_name", required=True)
@click.option("--customer", default="")
@click.option("--phone", default="")
@click.option("--critical", is_flag=True, help="Critical customer (never-disconnect candidate).")
@click.option("--key-revision", type=int, default=1, show_default=True)
@station_command
def meter_add(
    station, number, unit, scale, imp_per_kwh, tariff_name, customer, phone, critical, key_revision
):
    """Register a meter (11 digits with a Luhn check digit)."""
    stamp = station.stamp()
    added = station.write(
        lambda conn: registry.add_meter(
            conn,
            number,
            unit,
            scale,
            imp_per_kwh,
            tariff_name,
            customer,
            phone,
            critical,
            stamp,
            key_revision,
        )
    )
    click.echo(f"meter {added} added")


@meter.command("list")
@json_option
@station_command
def meter_list(station, as_json):
    """List registered meters."""
    emit(station.read(registry.list_meters), as_json, render.meters)


@meter.command("show")
@click.argument("number")
@json_option
@station_command
def meter_show(station, number, as_json):
    """One meter with its outstanding arrears and carried-forward value."""
    from host_tools.vending.mgmt import meter_summary

    emit(meter_summary(station, number), as_json, render.meter)


@meter.command("set-tariff")
@click.argument("number")
@click.argument("tariff_name")
@station_command
def meter_set_tariff(station, number, tariff_name):
    """Move a meter to another tariff (applies from its next sale)."""
    moved = station.write(lambda conn: registry.set_tariff(conn, number, tariff_name))
    click.echo(f"meter {moved} now on tariff {tariff_name}")


@meter.command("arrears")
@click.argument("number")
@click.argument("amount")
@click.option("--note", default="", help="Why (e.g. the old account it comes from).")
@click.option("--cashier", default="")
@json_option
@station_command
def meter_arrears(station, number, amount, note, cashier, as_json):
    """Put arrears on a meter; vends recover them by the tariff's percentage and cap."""
    from host_tools.vending.mgmt import add_arrears

    print_receipt(add_arrears(station, number, amount, note, cashier), as_json, station)


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(meter)
