"""`prepay report day|rollover`: the batch close (exit status 1 when the books do not
balance) and the STS TID rollover campaign's progress."""

from datetime import date as date_type

import click

from host_tools.cli.output import emit, json_option
from host_tools.cli.station_access import station_command
from host_tools.vending import render


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
    emit(data, as_json, render.day)
    if not data["books_balance"]:
        raise SystemExit(1)


@report_group.command("rollover")
@click.option("--sgc", default=None, help="Only this supply group (6 digits).")
@json_option
@station_command
def report_rollover(station, sgc, as_json):
    """STS meters and their TID rollover stage: done, issued, pending, not started."""
    from host_tools.vending import sts_meters

    data = sts_meters.rollover_report(station, sgc)

    def show(console, d):
        console.print(render.rows_table("TID rollover", d["meters"]))
        console.print(", ".join(f"{k}: {v}" for k, v in sorted(d["counts"].items())) or "none")

    emit(data, as_json, show)


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(report_group)
