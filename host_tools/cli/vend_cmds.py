"""`prepay vend|reprint|reverse`: sell credit, print a receipt again, reverse a sale."""

import click

from host_tools.cli.output import json_option
from host_tools.cli.station_access import print_receipt, station_command


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

    print_receipt(vend.sell(station, meter_number, amount, ref, channel, cashier), as_json)


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
    print_receipt(vend.find_receipt(station, receipt, ref), as_json)


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

    print_receipt(vend.reverse(station, receipt, reason, supervisor, cashier), as_json)


def register(main):
    """Attach this module's commands to the top-level group."""
    for command in (vend_cmd, reprint_cmd, reverse_cmd):
        main.add_command(command)
