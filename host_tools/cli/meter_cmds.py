"""`prepay meter add|list|show|set-tariff|set-limits|arrears|arrears-adjust|arrears-write-off|
arrears-reverse`: the station's meter registry and its arrears.

Putting a meter's settings into the meter itself is `prepay device provision` (device_cmds).
"""

import click

from host_tools.cli.output import emit, json_option
from host_tools.cli.station_access import home_option, print_receipt, station_command
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
@click.option("--rated-amps", type=int, default=None, help="Rated current (default: station's).")
@click.option("--max-sale-kwh", type=int, default=None, help="Most kWh one sale may buy.")
@station_command
def meter_add(
    station,
    number,
    unit,
    scale,
    imp_per_kwh,
    tariff_name,
    customer,
    phone,
    critical,
    key_revision,
    rated_amps,
    max_sale_kwh,
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
            rated_amps,
            max_sale_kwh,
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
@click.option("--cashier", default="")
@json_option
@station_command
def meter_set_tariff(station, number, tariff_name, cashier, as_json):
    """Move a meter to another tariff. A currency meter gets a signed config with it, which
    its sales' receipts carry until `prepay config applied` records the meter has it."""
    from host_tools.vending.mgmt import change_tariff

    r = change_tariff(station, number, tariff_name, cashier)
    if as_json:
        emit(r, True, "")
        return
    click.echo(f"meter {r['meter']} now on tariff {tariff_name}")
    if r["config"] is not None:
        print_receipt(r["config"], False, station)


@meter.command("set-limits")
@click.argument("number")
@click.option("--rated-amps", type=int, default=None, help="The meter's rated current.")
@click.option("--max-sale-kwh", type=int, default=None, help="Most kWh one sale may buy.")
@click.option("--default", "clear", is_flag=True, help="Max per sale: a month at rated current.")
@station_command
def meter_set_limits(station, number, rated_amps, max_sale_kwh, clear):
    """Set the most energy one sale may buy for a meter (default: a month at rated current)."""
    moved = station.write(
        lambda conn: registry.set_meter_limits(conn, number, rated_amps, max_sale_kwh, clear)
    )
    click.echo(f"meter {moved} limits set")


@meter.command("arrears")
@click.argument("number")
@click.argument("amount")
@click.option("--note", default="", help="Why (e.g. the old account it comes from).")
@click.option("--cashier", default="")
@click.option("--supervisor", default="", help="Approval, needed above the station's limit.")
@json_option
@station_command
def meter_arrears(station, number, amount, note, cashier, supervisor, as_json):
    """Put arrears on a meter; vends recover them by the tariff's percentage and cap."""
    from host_tools.vending.mgmt import add_arrears

    r = add_arrears(station, number, amount, note, cashier, supervisor=supervisor)
    print_receipt(r, as_json, station)


def _arrears_correction(how, help_text):
    """`meter arrears-adjust|arrears-write-off|arrears-reverse RECEIPT ...` (arrears.correct)."""
    params = [click.Argument(["receipt"])]
    if how == "adjust":
        params.append(click.Argument(["new_amount"]))

    @station_command
    def run(station, receipt, reason, supervisor, as_json, new_amount=None):
        from host_tools.vending import arrears

        r = arrears.correct(station, how, receipt, reason, supervisor, new_amount)
        print_receipt(r, as_json, station)

    command = click.Command("arrears-" + how, callback=run, params=params, help=help_text)
    for option in (
        click.option("--reason", required=True),
        click.option("--supervisor", required=True, help="A cashier registered --supervisor."),
        json_option,
        home_option,
    ):
        option(command)
    meter.add_command(command)


_arrears_correction("adjust", "Correct an arrears' amount to NEW_AMOUNT (a balancing entry).")
_arrears_correction("write-off", "Write off what an arrears still owes (a balancing entry).")
_arrears_correction(
    "reverse", "Undo a mistaken arrears; what was recovered goes to the meter's carry."
)


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(meter)
