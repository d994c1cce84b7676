"""`prepay meter add|list|show|set-tariff|set-limits|arrears|arrears-adjust|arrears-write-off|
arrears-reverse|rekey|critical`: the station's meter registry, its arrears and STS key changes.

Putting a meter's settings into the meter itself is `prepay device provision` (device_cmds).
"""

import click

from host_tools.cli.output import emit, json_option
from host_tools.cli.station_access import (
    ADMINS,
    APPROVERS,
    acting_user,
    approving_supervisor,
    home_option,
    print_receipt,
    retired_options,
    station_command,
)
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
    rated_amps,
    max_sale_kwh,
    token_format,
    **sts_options,
):
    """Register a meter (11 digits with a Luhn check digit); --format sts with its STS key
    parameters registers an STS meter (docs/sts.md). As the logged-in admin."""
    from host_tools.vending import sts_meters

    acting_user(station, ADMINS, "adding a meter")
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
            rated_amps,
            max_sale_kwh,
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
@retired_options("--cashier")
@json_option
@station_command
def meter_set_tariff(station, number, tariff_name, as_json):
    """Move a meter to another tariff (as the logged-in admin). A currency meter gets a signed
    config with it, which its sales' receipts carry until `prepay config applied` records the
    meter has it."""
    from host_tools.vending.mgmt import change_tariff

    cashier = acting_user(station, ADMINS, "changing a meter's tariff").name
    r = change_tariff(station, number, tariff_name, cashier)
    if as_json:
        emit(r, True, "")
        return
    click.echo(f"meter {r['meter']} now on tariff {tariff_name}")
    if r["config"] is not None:
        print_receipt(r["config"], False, station)


@meter.command("critical")
@click.argument("number")
@click.option("--remove", is_flag=True, help="On purpose: let the meter disconnect again.")
@click.option("--confirm", default=None, help="With --remove: the meter number typed again.")
@click.option("--reason", default="", help="With --remove: why (kept in the audit chain).")
@json_option
@station_command
def meter_critical(station, number, remove, confirm, reason, as_json):
    """Flag a critical customer's meter (hospital, water works) never-disconnect, or remove the
    flag (--remove --confirm NUMBER --reason TEXT), and sign its config, as the logged-in
    supervisor or admin (the web's never-disconnect page does the same)."""
    from host_tools.cli.config_cmds import print_signed_config
    from host_tools.vending import never_disconnect

    if not remove and (confirm is not None or reason):
        raise click.ClickException("--confirm and --reason go with --remove")
    user = acting_user(station, APPROVERS, "never-disconnect").name
    r = never_disconnect.set_flag(station, number, not remove, user, confirm, reason)
    print_signed_config(r, as_json, station)


@meter.command("set-limits")
@click.argument("number")
@click.option("--rated-amps", type=int, default=None, help="The meter's rated current.")
@click.option("--max-sale-kwh", type=int, default=None, help="Most kWh one sale may buy.")
@click.option("--default", "clear", is_flag=True, help="Max per sale: a month at rated current.")
@station_command
def meter_set_limits(station, number, rated_amps, max_sale_kwh, clear):
    """Set the most energy one sale may buy for a meter (default: a month at rated current),
    as the logged-in admin."""
    acting_user(station, ADMINS, "a meter's limits")
    moved = station.write(
        lambda conn: registry.set_meter_limits(conn, number, rated_amps, max_sale_kwh, clear)
    )
    click.echo(f"meter {moved} limits set")


@meter.command("arrears")
@click.argument("number")
@click.argument("amount")
@click.option("--note", default="", help="Why (e.g. the old account it comes from).")
@retired_options("--cashier", "--supervisor")
@json_option
@station_command
def meter_arrears(station, number, amount, note, as_json):
    """Put arrears on a meter; vends recover them by the tariff's percentage and cap. Above
    the station's approval limit a supervisor approves: the logged-in user when one, else
    $PREPAY_SUPERVISOR and $PREPAY_SUPERVISOR_PASSWORD."""
    from host_tools.vending.mgmt import add_arrears

    acting = acting_user(station, what="arrears")
    cashier = acting.name
    supervisor = approving_supervisor(station, acting, "arrears", required=False)
    r = add_arrears(station, number, amount, note, cashier, supervisor=supervisor)
    print_receipt(r, as_json, station)


def _arrears_correction(how, help_text):
    """`meter arrears-adjust|arrears-write-off|arrears-reverse RECEIPT ...` (arrears.correct)."""
    params = [click.Argument(["receipt"])]
    if how == "adjust":
        params.append(click.Argument(["new_amount"]))

    @station_command
    def run(station, receipt, reason, as_json, new_amount=None):
        from host_tools.vending import arrears

        acting = acting_user(station, what=f"arrears {how}")
        supervisor = approving_supervisor(station, acting, f"arrears {how}")
        r = arrears.correct(station, how, receipt, reason, supervisor, new_amount)
        print_receipt(r, as_json, station)

    command = click.Command("arrears-" + how, callback=run, params=params, help=help_text)
    for option in (
        click.option("--reason", required=True),
        retired_options("--cashier", "--supervisor"),
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
    first, then the credit token under the new key. As a logged-in supervisor or admin."""
    acting_user(station, APPROVERS, "a key change")
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
