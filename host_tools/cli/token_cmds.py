"""`prepay` verbs for the token concern: `prepay token encode|decode` (engineers, test benches).

The `token` group is importable as `host_tools.cli.token_cmds.token` so other modules can attach
management verbs to it. Key material is read from a file and never echoed, not even in errors.
"""

import json

import click

import token_spec
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
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
    else:
        tid = "-" if result["tid"] is None else result["tid"]
        click.echo(token_spec.format_token(result["token"]))
        click.echo("type %s  value %s  tid %s" % (result["type"], result["value"], tid))


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


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(token)
