"""`prepay tariff add|list|show`: the station's tariffs (docs/station.md)."""

import click

from host_tools.cli.output import emit, json_option
from host_tools.cli.station_access import station_command
from host_tools.vending import registry, render
from host_tools.vending.money import parse_amount


@click.group()
def tariff():
    """Tariffs: flat or inclining block, standing charge, debt recovery."""


@tariff.command("add")
@click.argument("name")
@click.option(
    "--kind", type=click.Choice(registry.TARIFF_KINDS), default="flat", show_default=True
)
@click.option("--price", default=None, help="Flat price per kWh, up to 4 decimals.")
@click.option(
    "--blocks", default=None, help='Block tariff per month, e.g. "50:1.20,200:1.80,*:2.50".'
)
@click.option("--standing-charge", default=None, help="Per month, collected at vend (kWh meters).")
@click.option("--debt-percent", type=int, default=0, show_default=True, help="Of each vend.")
@click.option("--debt-cap", default=None, help="Most debt recovered from one vend.")
@station_command
def tariff_add(station, name, kind, price, blocks, standing_charge, debt_percent, debt_cap):
    """Add a tariff."""
    steps = registry.tariff_blocks(kind, price, blocks)
    standing = 0 if standing_charge is None else parse_amount(standing_charge, "--standing-charge")
    cap = None if debt_cap is None else parse_amount(debt_cap, "--debt-cap")
    stamp = station.stamp()
    station.write(
        lambda conn: registry.add_tariff(
            conn, name, kind, steps, standing, debt_percent, cap, stamp, station.limits
        )
    )
    click.echo(f"tariff {name} added")


@tariff.command("list")
@json_option
@station_command
def tariff_list(station, as_json):
    """List tariffs."""
    emit(station.read(registry.list_tariffs), as_json, render.tariffs)


@tariff.command("show")
@click.argument("name")
@json_option
@station_command
def tariff_show(station, name, as_json):
    """Show one tariff."""
    row = station.read(lambda conn: registry.get_tariff(conn, name))
    emit(row, as_json, lambda c, d: render.tariffs(c, [d]))


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(tariff)
