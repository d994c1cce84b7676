"""`prepay vend|reprint|reverse`: sell credit, print a receipt again, reverse a sale."""

import click

from host_tools.cli.output import emit, json_option
from host_tools.cli.station_access import (
    APPROVERS,
    acting_user,
    approving_supervisor,
    print_receipt,
    retired_options,
    station_command,
)


@click.command("vend")
@click.argument("meter_number")
@click.argument("amount")
@click.option("--ref", required=True, help="Payment reference (unique; a retry returns the same).")
@click.option(
    "--channel", type=click.Choice(("cash", "card", "transfer", "mobile")), required=True
)
@retired_options("--cashier")
@json_option
@station_command
def vend_cmd(station, meter_number, amount, ref, channel, as_json):
    """Sell credit to a meter and print the receipt with its token (as the logged-in user:
    $PREPAY_USER and $PREPAY_USER_PASSWORD, else asked)."""
    from host_tools.vending import vend

    cashier = acting_user(station, what="a sale").name
    print_receipt(
        vend.sell(station, meter_number, amount, ref, channel, cashier), as_json, station
    )


@click.command("reprint")
@click.argument("receipt", required=False)
@click.option("--ref", default=None, help="Find it by payment reference instead.")
@click.option("--meter", default=None, help="The meter's last sale (customer lost the receipt).")
@click.option("--list", "as_list", is_flag=True, help="With --meter: its recent sales to choose.")
@retired_options("--cashier")
@json_option
@station_command
def reprint_cmd(station, receipt, ref, meter, as_list, as_json):
    """Print a receipt again (the same token), marked COPY; every copy is logged with the
    logged-in user who printed it (--list needs no login)."""
    from host_tools.vending import render, reprints

    if sum(x is not None for x in (receipt, ref, meter)) != 1:
        raise click.UsageError("give one of RECEIPT, --ref or --meter")
    if as_list:
        if meter is None:
            raise click.UsageError("--list goes with --meter")
        rows = reprints.recent_sales(station, meter)
        emit(rows, as_json, lambda c, d: c.print(render.rows_table(f"Sales to {meter}", d)))
        return
    cashier = acting_user(station, what="a reprint").name
    print_receipt(reprints.reprint(station, receipt, ref, meter, cashier), as_json, station)


@click.command("reverse")
@click.argument("receipt")
@click.option("--reason", required=True)
@retired_options("--cashier", "--supervisor")
@json_option
@station_command
def reverse_cmd(station, receipt, reason, as_json):
    """Reverse a sale with a new balancing transaction (the sale is marked, never edited).

    Approved by the logged-in user when a supervisor or admin, else by the supervisor in
    $PREPAY_SUPERVISOR/$PREPAY_SUPERVISOR_PASSWORD (or asked); never by the sale's cashier."""
    from host_tools.vending import vend

    acting = acting_user(station, what="a reversal")
    boss = approving_supervisor(station, acting, "a reversal")
    done = vend.reverse(station, receipt, reason, boss, acting.name, own_sale_ok=False)
    print_receipt(done, as_json, station)


@click.group("void")
def void_group():
    """Void tokens of reversed sales: which are open, and confirming them on the meter."""


@void_group.command("list")
@click.option("--meter", default=None, help="Only this meter's.")
@json_option
@station_command
def void_list(station, meter, as_json):
    """Void tokens the meter has not confirmed yet."""
    from host_tools.vending import render, voids

    rows = voids.pending(station, meter)
    emit(rows, as_json, lambda c, d: c.print(render.rows_table("Open void tokens", d)))


@void_group.command("confirm")
@click.argument("meter_number")
@click.option("--port", required=True, help="The meter's serial port (or a simulator's).")
@json_option
@station_command
def void_confirm(station, meter_number, port, as_json):
    """Enter the meter's open void tokens over its serial port and close those it confirms.

    `accepted` (applied now) and `used` (the customer already entered it) both mean the meter
    has it; anything else leaves the void open. A supervisor or admin logs in: closing a void
    changes what the books believe the meter holds."""
    from host_tools.device.client import DeviceClient, DeviceError
    from host_tools.vending import voids

    user = acting_user(station, APPROVERS, "confirming a void token").name
    results = []
    try:
        with DeviceClient(port) as meter:
            number = meter.request("status").get("meter_number")
            if number != meter_number:
                raise click.ClickException(f"the meter on {port} is {number}, not {meter_number}")
            for void in voids.pending(station, meter_number):
                answer = meter.request("token", token=void["token"])["result"]
                if answer in ("accepted", "used"):
                    voids.confirm(
                        station, meter_number, void["tid"], "token " + answer, cashier=user
                    )
                results.append({"tid": void["tid"], "result": answer})
    except DeviceError as exc:
        raise click.ClickException(str(exc)) from None
    text = "\n".join(
        "void TID %d: %s"
        % (
            r["tid"],
            "confirmed"
            if r["result"] in ("accepted", "used")
            else "still open (meter said %s)" % r["result"],
        )
        for r in results
    )
    emit(results, as_json, text or "no open void tokens for %s" % meter_number)


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(void_group)
    for command in (vend_cmd, reprint_cmd, reverse_cmd):
        main.add_command(command)
