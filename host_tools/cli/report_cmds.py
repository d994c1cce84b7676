"""`prepay report day`: the batch close; exit status 1 when the books do not balance."""

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


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(report_group)
