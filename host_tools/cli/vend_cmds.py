"""`prepay vend|reprint|reverse`: sell credit, print a receipt again, reverse a sale."""

import click

from host_tools.cli.output import emit, json_option
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

    print_receipt(
        vend.sell(station, meter_number, amount, ref, channel, cashier), as_json, station
    )


@click.command("reprint")
@click.argument("receipt", required=False)
@click.option("--ref", default=None, help="Find it by payment reference instead.")
@click.option("--meter", default=None, help="The meter's last sale (customer lost the receipt).")
@click.option("--list", "as_list", is_flag=True, help="With --meter: its recent sales to choose.")
@click.option("--cashier", default="", help="Who printed the copy (logged).")
@json_option
@station_command
def reprint_cmd(station, receipt, ref, meter, as_list, cashier, as_json):
    """Print a receipt again (the same token), marked COPY; every copy is logged."""
    from host_tools.vending import render, reprints

    if sum(x is not None for x in (receipt, ref, meter)) != 1:
        raise click.UsageError("give one of RECEIPT, --ref or --meter")
    if as_list:
        if meter is None:
            raise click.UsageError("--list goes with --meter")
        rows = reprints.recent_sales(station, meter)
        emit(rows, as_json, lambda c, d: c.print(render.rows_table(f"Sales to {meter}", d)))
        return
    print_receipt(reprints.reprint(station, receipt, ref, meter, cashier), as_json, station)


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

    print_receipt(vend.reverse(station, receipt, reason, supervisor, cashier), as_json, station)


def register(main):
    """Attach this module's commands to the top-level group."""
    for command in (vend_cmd, reprint_cmd, reverse_cmd):
        main.add_command(command)
