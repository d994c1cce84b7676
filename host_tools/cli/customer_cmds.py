"""`prepay customer set|show`: how a meter's customer is reached (contact, language, opt-in).

The messages themselves are `prepay notify` (notify_cmds, docs/notify.md)."""

import click

from host_tools.cli.output import emit, json_option
from host_tools.cli.station_access import ADMINS, acting_user, station_command
from host_tools.vending import registry


@click.group()
def customer():
    """The customer of a meter: contact, language and message opt-in."""


def _text(data):
    yes = {True: "yes", False: "no"}
    return (
        f"meter {data['meter']} ({data['customer'] or '-'}): language {data['language']}, "
        f"e-mail {data['email'] or '-'} (opt-in {yes[data['email_opt_in']]}), "
        f"SMS {data['sms_number'] or '-'} (opt-in {yes[data['sms_opt_in']]})"
    )


@customer.command("set")
@click.argument("meter")
@click.option("--email", default=None, help="E-mail address (empty to remove).")
@click.option("--phone", default=None, help="SMS number, e.g. +8613800000000 (default: meter's).")
@click.option("--language", type=click.Choice(registry.LANGUAGES), default=None)
@click.option("--email-opt-in/--no-email-opt-in", "email_opt", default=None)
@click.option("--sms-opt-in/--no-sms-opt-in", "sms_opt", default=None)
@json_option
@station_command
def customer_set(station, meter, email, phone, language, email_opt, sms_opt, as_json):
    """Set the customer's contact of METER; options not given stay as they are (as the
    logged-in admin)."""
    acting_user(station, ADMINS, "a customer's contact")
    data = station.write(
        lambda conn: registry.set_contact(conn, meter, email, phone, language, email_opt, sms_opt)
    )
    emit(data, as_json, _text(data))


@customer.command("show")
@click.argument("meter")
@json_option
@station_command
def customer_show(station, meter, as_json):
    """How the customer of METER is reached."""
    data = station.read(lambda conn: registry.get_contact(conn, registry.check_meter(meter)))
    emit(data, as_json, _text(data))


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(customer)
