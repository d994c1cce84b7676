"""What every verb that works on the vending station shares: `--home`, the passphrase prompt,
and `station_command`, which opens the station and turns its errors into one line."""

import functools
import sys

import click
from sqlalchemy import exc as sa_exc

from host_tools.cli.output import emit
from host_tools.vending import StationError, db, render

home_option = click.option(
    "--home", "home_dir", default=None, help="Station home (default $PREPAY_HOME, else per-user)."
)


def passphrase_prompt(confirm):
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
            station = Station(home_dir, prompt=passphrase_prompt)
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


def print_receipt(receipt, as_json, station=None):
    """A receipt; with the station, its header (utility, address, tax id) and local time."""
    if station is not None:
        from host_tools.vending.settings import for_print

        receipt = for_print(station.config, station.tz, receipt)
    emit(receipt, as_json, render.receipt)
