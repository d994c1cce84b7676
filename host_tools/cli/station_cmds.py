"""`prepay` verbs for the vending station (cashiers and back office); see docs/station.md.

station init|cashier, meter add|list|show|set-tariff|set-limits|arrears|arrears-adjust|
arrears-write-off|arrears-reverse, tariff add|list|show, vend, reprint, reverse,
config sign, report day, audit verify, and the management verbs attached to `prepay token`.
Errors are one line on stderr (click.ClickException); `--json` prints one JSON document.
"""

import functools
import json
import sys
from datetime import date as date_type

import click
from rich.console import Console
from sqlalchemy import exc as sa_exc

from host_tools.vending import StationError, db, registry, render
from host_tools.vending.money import parse_amount

home_option = click.option(
    "--home", "home_dir", default=None, help="Station home (default $PREPAY_HOME, else per-user)."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


def _prompt(confirm):
    if not sys.stdin.isatty():  # getpass would warn and read the passphrase from a pipe
        raise StationError("no terminal to ask for the passphrase: set PREPAY_PASSPHRASE")
    return click.prompt(
        "Vending key passphrase", hide_input=True, confirmation_prompt=confirm, err=True
    )


def station_command(func):
    """Open the station named by --home, pass it as `station`, turn errors into one line."""

    @functools.wraps(func)
    def wrapper(*args, home_dir=None, **kwargs):
        from host_tools.vending.station import Station

        station = None
        try:
            station = Station(home_dir, prompt=_prompt)
            return func(station, *args, **kwargs)
        except StationError as error:
            raise click.ClickException(str(error)) from None
        except sa_exc.SQLAlchemyError as error:
            url = station.url if station else ""
            raise click.ClickException(str(db.connect_error(url, error))) from None
        finally:
            if station is not None:
                station.close()

    return home_option(wrapper)


def _emit(data, as_json, draw):
    if as_json:
        click.echo(json.dumps(data, sort_keys=True, default=str))
    else:
        draw(Console(), data)


def _print_receipt(r, as_json):
    _emit(r, as_json, render.receipt)


def _amount_or_none(text, what):
    return None if text is None else parse_amount(text, what)


# ---- station ---------------------------------------------------------------------------------


@click.group()
def station():
    """Set up the vending station and its cashiers."""


@station.command("init")
@home_option
@click.option("--db", "db_url", default=None, help="Database URL (default: SQLite in the home).")
@click.option(
    "--key-from", default=None, help="Another station's vending.key (a second station on a DB)."
)
@json_option
def station_init(home_dir, db_url, key_from, as_json):
    """Create the station: encrypted vending key, station.json and the database schema."""
    from host_tools.vending.station import init_station

    try:
        root, url = init_station(home_dir, db_url, prompt=_prompt, key_from=key_from)
    except StationError as error:
        raise click.ClickException(str(error)) from None
    data = {"home": str(root), "db": db.redact(url)}
    _emit(
        data, as_json, lambda c, d: c.print(f"station ready in {d['home']} (database {d['db']})")
    )


@station.group("cashier")
def cashier_group():
    """Cashiers, their vend limits and who may approve reversals."""


@cashier_group.command("add")
@click.argument("cashier_id")
@click.option("--limit", "limit_text", required=True, help="Largest single vend, e.g. 2000.00.")
@click.option("--name", default="", help="Full name.")
@click.option("--supervisor", is_flag=True, help="May approve reversals.")
@station_command
def cashier_add(station, cashier_id, limit_text, name, supervisor):
    """Register a cashier with a per-vend limit."""
    limit = parse_amount(limit_text, "--limit")
    station.write(lambda conn: registry.add_cashier(conn, cashier_id, name, limit, supervisor))
    click.echo(f"cashier {cashier_id} added")


@cashier_group.command("list")
@json_option
@station_command
def cashier_list(station, as_json):
    """List cashiers."""
    rows = station.read(registry.list_cashiers)
    _emit(rows, as_json, lambda c, d: c.print(render.rows_table("Cashiers", d)))


# ---- tariffs and meters ----------------------------------------------------------------------


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
    cap = _amount_or_none(debt_cap, "--debt-cap")
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
    _emit(station.read(registry.list_tariffs), as_json, render.tariffs)


@tariff.command("show")
@click.argument("name")
@json_option
@station_command
def tariff_show(station, name, as_json):
    """Show one tariff."""
    row = station.read(lambda conn: registry.get_tariff(conn, name))
    _emit(row, as_json, lambda c, d: render.tariffs(c, [d]))


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
    _emit(station.read(registry.list_meters), as_json, render.meters)


@meter.command("show")
@click.argument("number")
@json_option
@station_command
def meter_show(station, number, as_json):
    """One meter with its outstanding arrears and carried-forward value."""
    from host_tools.vending.mgmt import meter_summary

    data = meter_summary(station, number)
    _emit(data, as_json, render.meter)


@meter.command("set-tariff")
@click.argument("number")
@click.argument("tariff_name")
@station_command
def meter_set_tariff(station, number, tariff_name):
    """Move a meter to another tariff (applies from its next sale)."""
    moved = station.write(lambda conn: registry.set_tariff(conn, number, tariff_name))
    click.echo(f"meter {moved} now on tariff {tariff_name}")


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
    _print_receipt(r, as_json)


def _arrears_correction(how, help_text):
    """`meter arrears-adjust|arrears-write-off|arrears-reverse RECEIPT ...` (arrears.correct)."""
    params = [click.Argument(["receipt"])]
    if how == "adjust":
        params.append(click.Argument(["new_amount"]))

    @station_command
    def run(station, receipt, reason, supervisor, as_json, new_amount=None):
        from host_tools.vending import arrears

        r = arrears.correct(station, how, receipt, reason, supervisor, new_amount)
        _print_receipt(r, as_json)

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


# ---- vend, reprint, reverse ------------------------------------------------------------------


@click.command("vend")
@click.argument("meter_number")
@click.argument("amount")
@click.option("--ref", required=True, help="Payment reference (unique; a retry returns the same).")
@click.option(
    "--channel", type=click.Choice(("cash", "card", "transfer", "mobile")), required=True
)
@click.option("--cashier", default="")
@json_option
@station_command
def vend_cmd(station, meter_number, amount, ref, channel, cashier, as_json):
    """Sell credit to a meter and print the receipt with its token."""
    from host_tools.vending import vend

    _print_receipt(vend.sell(station, meter_number, amount, ref, channel, cashier), as_json)


@click.command("reprint")
@click.argument("receipt", required=False)
@click.option("--ref", default=None, help="Find it by payment reference instead.")
@json_option
@station_command
def reprint_cmd(station, receipt, ref, as_json):
    """Print a receipt again (the same token)."""
    from host_tools.vending import vend

    if (receipt is None) == (ref is None):
        raise click.UsageError("give either RECEIPT or --ref")
    _print_receipt(vend.find_receipt(station, receipt, ref), as_json)


@click.command("reverse")
@click.argument("receipt")
@click.option("--reason", required=True)
@click.option("--supervisor", required=True, help="A cashier registered with --supervisor.")
@click.option("--cashier", default="")
@json_option
@station_command
def reverse_cmd(station, receipt, reason, supervisor, cashier, as_json):
    """Reverse a sale with a new balancing transaction (the sale is marked, never edited)."""
    from host_tools.vending import vend

    _print_receipt(vend.reverse(station, receipt, reason, supervisor, cashier), as_json)


# ---- config, report, audit -------------------------------------------------------------------


@click.group("config")
def config_group():
    """Signed configuration blobs for meters."""


@config_group.command("sign")
@click.argument("meter_number")
@click.option("--file", "path", required=True, help="The config as a JSON object.")
@click.option("--cashier", default="")
@json_option
@station_command
def config_sign(station, meter_number, path, cashier, as_json):
    """Sign a config for one meter with its next config counter."""
    from host_tools.vending import mgmt

    config = mgmt.load_config_file(path)
    _print_receipt(mgmt.sign(station, meter_number, config, cashier), as_json)


@click.group("report")
def report_group():
    """Reports."""


@report_group.command("day")
@click.option("--date", "day", default=None, help="YYYY-MM-DD in the station's time zone.")
@click.option("--cashier", default=None)
@json_option
@station_command
def report_day(station, day, cashier, as_json):
    """Totals per channel and cashier, counts, reversals and the books-balance check."""
    from host_tools.vending import reports

    if day is not None:
        try:
            day = date_type.fromisoformat(day).isoformat()
        except ValueError:
            msg = f"{day!r} is not a date YYYY-MM-DD"
            raise click.BadParameter(msg, param_hint="--date") from None
    data = reports.day(station, day, cashier)
    _emit(data, as_json, render.day)
    if not data["books_balance"]:
        raise SystemExit(1)


@click.group("audit")
def audit_group():
    """Ledger integrity."""


@audit_group.command("verify")
@json_option
@station_command
def audit_verify(station, as_json):
    """Recompute the hash chain: any edited, inserted or deleted ledger row is reported."""
    from host_tools.vending import audit

    result = audit.verify(station)

    _emit(result, as_json, render.audit_result)
    if not result["ok"]:
        raise SystemExit(1)


# ---- management tokens (attached to `prepay token`) -------------------------------------------


def _management_command(verb, value_name, help_text):
    params = [click.Argument(["meter_number"])]
    if value_name:
        params.append(click.Argument(["value"]))

    @station_command
    def run(station, meter_number, value=None, ref=None, cashier="", as_json=False):
        from host_tools.vending import mgmt

        _print_receipt(mgmt.issue(station, meter_number, verb, value, ref, cashier), as_json)

    command = click.Command(verb, callback=run, params=params, help=help_text)
    for option in (_ref_option, _cashier_option, json_option, home_option):
        option(command)
    return command


_ref_option = click.option(
    "--ref", default=None, help="Request reference (a retry is idempotent)."
)
_cashier_option = click.option("--cashier", default="")

MANAGEMENT_VERBS = (
    ("power-limit", "WATTS", "Set the meter's maximum power (W)."),
    ("clear-tamper", None, "Clear the tamper state."),
    ("clear-credit", None, "Clear the credit register."),
    ("set-price", "PRICE", "Set a currency meter's flat price per kWh (up to 4 decimals)."),
    ("low-credit", "AMOUNT", "Set a currency meter's low-credit alarm threshold."),
    ("add-debt", "AMOUNT", "Add debt to a currency meter (the meter recovers it)."),
    ("debt-recovery", "PERCENT", "Set the meter's debt-recovery percentage."),
)


@click.command("key-change")
@click.argument("meter_number")
@click.option("--revision", type=int, default=None, help="New key revision (default: next).")
@_ref_option
@_cashier_option
@json_option
@station_command
def key_change_cmd(station, meter_number, revision, ref, cashier, as_json):
    """Issue the four key-change tokens and move the meter to the new key revision."""
    from host_tools.vending import mgmt

    _print_receipt(mgmt.key_change(station, meter_number, revision, ref, cashier), as_json)


def management_commands():
    """The `prepay token ...` management verbs (to attach to the token group)."""
    made = [_management_command(verb, arg, text) for verb, arg, text in MANAGEMENT_VERBS]
    return made + [key_change_cmd]


def register(main):
    """Attach this module's commands to the top-level group and to `prepay token`."""
    for command in (
        station,
        meter,
        tariff,
        vend_cmd,
        reprint_cmd,
        reverse_cmd,
        config_group,
        report_group,
        audit_group,
    ):
        main.add_command(command)
    token_group = main.commands.get("token")
    if token_group is None:
        from host_tools.cli.token_cmds import token as token_group

        main.add_command(token_group)
    for command in management_commands():
        token_group.add_command(command)
