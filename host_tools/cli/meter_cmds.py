"""`prepay meter add|list|show|set-tariff|arrears|rekey`: the station's meter registry.

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
@click.option(
    "--format", "token_format", type=click.Choice(("v1", "sts")), default="v1", show_default=True
)
@click.option("--pan", default=None, help="STS: the 18-digit meter PAN (IIN + IAIN + Luhn).")
@click.option("--sgc", default=None, help="STS: supply group code (6 digits).")
@click.option("--ti", default=None, help="STS: tariff index (0-99).")
@click.option("--krn", default=None, help="STS: key revision number (1-9).")
@click.option("--kt", default="2", show_default=True, help="STS: key type (2 = DUTK).")
@click.option("--ken", default="255", show_default=True, help="STS: key expiry number.")
@click.option("--ea", default=None, help="STS: encryption algorithm 07 (STA) or 11 (MISTY1).")
@click.option("--dkga", default=None, help="STS: key derivation 02 or 04.")
@click.option("--base", default=None, help="STS: TID base date 1993, 2014 or 2035.")
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
    token_format,
    **sts_options,
):
    """Register a meter (11 digits with a Luhn check digit); --format sts with its STS key
    parameters registers an STS meter (docs/sts.md)."""
    from host_tools.vending import sts_meters

    sts = sts_meters.check_options(token_format, sts_options)
    stamp = station.stamp()

    def work(conn):
        added = registry.add_meter(
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
        if sts is not None:
            sts_meters.add(conn, added, sts["pan"], sts["params"], sts["ea"], stamp)
        return added

    added = station.write(work)
    click.echo(f"{token_format} meter {added} added")


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

    print_receipt(add_arrears(station, number, amount, note, cashier), as_json)


@meter.command("rekey")
@click.argument("number")
@click.option("--new-krn", required=True, help="New key revision number (1-9).")
@click.option("--new-ti", default=None, help="New tariff index (0-99).")
@click.option("--new-base", default=None, help="New TID base date (needs --ro).")
@click.option("--new-dkga", default=None, help="New key derivation 02 or 04.")
@click.option("--ro", is_flag=True, help="Rollover: the meter clears its TID memory.")
@json_option
@station_command
def meter_rekey(station, number, new_krn, new_ti, new_base, new_dkga, ro, as_json):
    """STS meter: record a new key; its next sale's receipt carries the key change tokens
    first, then the credit token under the new key."""
    from host_tools.vending import sts_meters

    done = sts_meters.rekey(station, number, new_krn, new_ti, new_base, new_dkga, ro)
    emit(
        done,
        as_json,
        lambda c, d: c.print(
            f"meter {d['meter']}: key change recorded ({d['pending']}); "
            "the next sale carries the key change tokens"
        ),
    )


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(meter)
