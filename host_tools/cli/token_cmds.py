"""`prepay token ...`: every token verb.

encode|decode          any token from a decoder key file (engineers, test benches); key material
                       is read from a file and never echoed, not even in errors.
power-limit, set-price, management tokens sold by the vending station for a registered meter,
key-change, ...        with receipts in its ledger (docs/station.md).
"""

import click

import token_spec
from host_tools.cli.output import emit, json_option
from host_tools.cli.station_access import (
    APPROVERS,
    acting_user,
    home_option,
    print_receipt,
    retired_options,
    station_command,
)
from token_spec.epoch import meter_time
from token_spec.types import KEY_CHANGE_TYPES, TID_FREE_TYPES, TYPE_NAMES, type_from_name


def read_key_file(path):
    """The 16-byte decoder key from a file holding 32 hex digits (whitespace allowed)."""
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            text = handle.read(4096)
    except OSError as exc:
        raise click.ClickException(
            "cannot read key file %s: %s" % (path, exc.strerror or "error")
        ) from None
    hex_digits = "".join(text.split())
    try:
        key = bytes.fromhex(hex_digits)
    except ValueError:
        key = b""
    if len(key) != 16:
        raise click.ClickException(
            "key file %s must hold a 16-byte decoder key as 32 hex digits" % path
        )
    return key


def _meter(text):
    try:
        return token_spec.check_meter_number(text)
    except token_spec.MeterNumberError as exc:
        raise click.BadParameter(str(exc), param_hint="--meter") from None


def _type(text):
    try:
        return type_from_name(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--type") from None


def _print(result, as_json):
    tid = "-" if result["tid"] is None else result["tid"]
    text = "%s\ntype %s  value %s  tid %s" % (
        token_spec.format_token(result["token"]),
        result["type"],
        result["value"],
        tid,
    )
    emit(result, as_json, text)


@click.group("token")
def token():
    """Encode and decode 20-digit tokens (format v1, token_spec/SPEC.md)."""


@token.command("encode")
@click.option("--key-file", required=True, type=click.Path(dir_okay=False), help="decoder key")
@click.option("--meter", "meter", required=True, help="11-digit meter number")
@click.option("--type", "type_name", required=True, help="token type name or number 0-15")
@click.option("--value", required=True, type=int, help="amount, watts, percent, test number")
@click.option("--tid", type=int, help="minutes since 2020-01-01T00:00Z (default: now)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document")
def encode(key_file, meter, type_name, value, tid, as_json):
    """Print the token for one meter, type, value and TID."""
    token_type = _type(type_name)
    meter = _meter(meter)
    key = read_key_file(key_file)
    if tid is None:
        # Key-change parts carry no TID and public test tokens always TID 0 (SPEC.md §5).
        if token_type in TID_FREE_TYPES:
            tid = 0
        else:
            tid = token_spec.tid_from_time(meter_time())
    try:
        digits = token_spec.encode_token(key, meter, token_type, value, tid)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    carried = None if token_type in KEY_CHANGE_TYPES else tid % token_spec.TID_MODULUS
    result = {"token": digits, "type": TYPE_NAMES[token_type], "value": value, "tid": carried}
    _print(result, as_json)


@token.command("decode")
@click.option("--key-file", required=True, type=click.Path(dir_okay=False), help="decoder key")
@click.option("--meter", "meter", required=True, help="11-digit meter number")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document")
@click.argument("digits", nargs=-1, required=True)
def decode(key_file, meter, as_json, digits):
    """Decode a token (DIGITS may be split by spaces or dashes)."""
    meter = _meter(meter)
    key = read_key_file(key_file)
    text = " ".join(digits)
    try:
        normalized = token_spec.normalize_token(text)
        token_type, value, tid24 = token_spec.decode_token(key, meter, normalized)
    except token_spec.TokenError as exc:
        raise click.ClickException("%s (result: %s)" % (exc, exc.code)) from None
    result = {"token": normalized, "type": TYPE_NAMES[token_type], "value": value, "tid": tid24}
    _print(result, as_json)


# ---- management tokens, sold by the station -----------------------------------------------

_ref_option = click.option(
    "--ref", default=None, help="Request reference (a retry is idempotent)."
)
_cashier_option = retired_options("--cashier")

MANAGEMENT_VERBS = (
    ("power-limit", "WATTS", "Set the meter's maximum power (W)."),
    ("clear-tamper", None, "Clear the tamper state."),
    ("clear-credit", None, "Clear the credit register."),
    ("set-price", "PRICE", "Set a currency meter's flat price per kWh (up to 4 decimals)."),
    ("low-credit", "AMOUNT", "Set a currency meter's low-credit alarm threshold."),
    ("add-debt", "AMOUNT", "Add debt to a currency meter (the meter recovers it)."),
    ("debt-recovery", "PERCENT", "Set the meter's debt-recovery percentage."),
)


def _management_command(verb, value_name, help_text):
    params = [click.Argument(["meter_number"])]
    if value_name:
        params.append(click.Argument(["value"]))

    @station_command
    def run(station, meter_number, value=None, ref=None, as_json=False):
        from host_tools.vending import mgmt

        cashier = acting_user(station, APPROVERS, f"a {verb} token").name
        print_receipt(
            mgmt.issue(station, meter_number, verb, value, ref, cashier), as_json, station
        )

    command = click.Command(verb, callback=run, params=params, help=help_text)
    for option in (_ref_option, _cashier_option, json_option, home_option):
        option(command)
    return command


def _add_management_verbs():
    for verb, value_name, help_text in MANAGEMENT_VERBS:
        token.add_command(_management_command(verb, value_name, help_text))


_add_management_verbs()


@token.command("key-change")
@click.argument("meter_number")
@click.option("--revision", type=int, default=None, help="New key revision (default: next).")
@_ref_option
@_cashier_option
@json_option
@station_command
def key_change_cmd(station, meter_number, revision, ref, as_json):
    """Issue the four key-change tokens and move the meter to the new key revision (as the
    logged-in supervisor or admin)."""
    from host_tools.vending import mgmt

    cashier = acting_user(station, APPROVERS, "a key change").name
    print_receipt(mgmt.key_change(station, meter_number, revision, ref, cashier), as_json, station)


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(token)
