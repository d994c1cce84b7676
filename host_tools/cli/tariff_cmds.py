"""`prepay tariff add|list|show`: the station's tariffs (docs/station.md)."""

import click

from host_tools.cli.output import emit, json_option
from host_tools.cli.station_access import ADMINS, acting_user, station_command
from host_tools.vending import registry, render
from host_tools.vending.money import parse_amount


@click.group()
def tariff():
    """Tariffs: flat, inclining block, time-of-use (also with blocks), standing charge, debt."""


@tariff.command("add")
@click.argument("name")
@click.option(
    "--kind", type=click.Choice(registry.TARIFF_KINDS), default="flat", show_default=True
)
@click.option("--price", default=None, help="Flat price per kWh, up to 4 decimals.")
@click.option(
    "--blocks", default=None, help='Block tariff per month, e.g. "50:1.20,200:1.80,*:2.50".'
)
@click.option(
    "--tou",
    default=None,
    help='Time-of-use prices on weekdays, e.g. "00:00:1.20,17:00:2.50,22:00:1.20" '
    "(kinds tou, tou-block; currency meters). With tou-block, --blocks prices are added.",
)
@click.option("--tou-weekend", default=None, help="Weekend prices (default: the weekday ones).")
@click.option("--tou-holiday", default=None, help="Holiday prices (default: the weekend ones).")
@click.option(
    "--standing-charge",
    default=None,
    help="Per month: collected at vend (kWh meters), charged per day by a currency meter.",
)
@click.option("--debt-percent", type=int, default=0, show_default=True, help="Of each vend.")
@click.option("--debt-cap", default=None, help="Most debt recovered from one vend.")
@station_command
def tariff_add(
    station,
    name,
    kind,
    price,
    blocks,
    tou,
    tou_weekend,
    tou_holiday,
    standing_charge,
    debt_percent,
    debt_cap,
):
    """Add a tariff (as the logged-in admin)."""
    acting_user(station, ADMINS, "adding a tariff")
    steps = registry.tariff_blocks(kind, price, blocks)
    table = registry.tou_table(kind, tou, tou_weekend, tou_holiday)
    standing = 0 if standing_charge is None else parse_amount(standing_charge, "--standing-charge")
    cap = None if debt_cap is None else parse_amount(debt_cap, "--debt-cap")
    stamp = station.stamp()
    station.write(
        lambda conn: registry.add_tariff(
            conn, name, kind, steps, standing, debt_percent, cap, stamp, station.limits, table
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
