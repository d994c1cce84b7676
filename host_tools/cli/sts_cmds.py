"""`prepay sts encode|decode|key|keychange|rollover`: STS-compatible tokens (docs/sts.md).

`rollover` works on the vending station (its STS meters); the others are bench tools.

For engineers and acceptance scripts. A decoder key is given directly (--dk) or derived from
the vending key and the meter's codes (--vk --dkga --pan --sgc --ti --kt --krn --base).
Every bad input ends in one line on stderr naming the option; keys never appear in errors.
Keys on a command line are visible to other users of the host: this is a bench tool, the
station keeps its vending keys encrypted at rest.
"""

import json

import click

from host_tools.cli.output import emit
from host_tools.cli.station_access import station_command
from host_tools.sts import keys
from token_spec.sts import token
from token_spec.sts.crc import is_currency
from token_spec.sts.digits import normalize
from token_spec.sts.tid import (
    BASE_YEARS,
    TID_MAX,
    ken_allows,
    tid_from_time,
    time_from_tid,
)

_SUBCLASS_NAMES = {
    0: ("electricity", "water", "gas", "time")
    + ("electricity currency", "water currency", "gas currency", "time currency"),
    1: ("test/display (2-digit manufacturer code)", "test/display (4-digit manufacturer code)"),
    2: (
        "SetMaximumPowerLimit",
        "ClearCredit",
        "SetTariffRate",
        "Set1stSectionDecoderKey",
        "Set2ndSectionDecoderKey",
        "ClearTamperCondition",
        "SetMaximumPhasePowerUnbalanceLimit",
        "SetWaterMeterFactor",
        "Set3rdSectionDecoderKey",
        "Set4thSectionDecoderKey",
    ),
}


def _fail(message):
    raise click.ClickException(message)


def _number(option, text, low, high):
    """An int from decimal text in low..high."""
    text = (text or "").strip()
    if not text.isdigit():
        _fail("%s must be a number (got %r)" % (option, text))
    value = int(text)
    if not low <= value <= high:
        _fail("%s must be %d..%d (got %d)" % (option, low, high, value))
    return value


def _ea(text):
    value = _number("--ea", text, 0, 99)
    if value not in (token.EA07, token.EA11):
        _fail("--ea must be 07 (STA) or 11 (MISTY1); EA09 (DEA) is not supported")
    return value


def _dkga(option, text):
    value = _number(option, text, 0, 99)
    if value not in (keys.DKGA02, keys.DKGA04):
        _fail("%s must be 02 or 04 (DKGA01 is not public, DKGA03 is deprecated)" % option)
    return value


def _base(option, text):
    value = _number(option, text, 0, 9999)
    if value < 100:  # the two-digit codes 93 / 14 / 35 of the standard
        value += 1900 if value >= 93 else 2000
    if value not in BASE_YEARS:
        _fail("%s must be 1993, 2014 or 2035" % option)
    return value


def _hex_key(option, text, sizes):
    try:
        key = bytes.fromhex((text or "").strip())
    except ValueError:
        key = b""
    if len(key) not in sizes:
        _fail("%s must be %s hex digits" % (option, " or ".join(str(2 * s) for s in sizes)))
    return key


def _sgc(text):
    try:
        return keys.check_sgc((text or "").strip())
    except ValueError as exc:
        _fail("--sgc: %s (got %r)" % (exc, text))


def _pan(text):
    try:
        return keys.check_pan((text or "").strip())
    except ValueError as exc:
        _fail("--pan: %s" % exc)


class _Meter:
    """The meter's key parameters as given on the command line, validated."""

    def __init__(self, vk, dkga, pan, sgc, ti, kt, krn, base):
        given = {"--vk": vk, "--dkga": dkga, "--pan": pan, "--sgc": sgc, "--ti": ti}
        given.update({"--kt": kt, "--krn": krn, "--base": base})
        missing = [name for name, value in given.items() if value is None]
        if missing:
            _fail("deriving the decoder key needs " + " ".join(missing))
        self.dkga = _dkga("--dkga", dkga)
        self.vk = _hex_key("--vk", vk, (8,) if self.dkga == keys.DKGA02 else (20,))
        self.pan = _pan(pan)
        self.sgc = _sgc(sgc)
        self.ti = _number("--ti", ti, 0, 99)  # "01" or "1"
        self.kt = _number("--kt", kt, 0, 3)
        self.krn = _number("--krn", krn, 1, 9)
        self.base = _base("--base", base)

    def key(self, ea, **changes):
        p = dict(self.__dict__, **changes)
        try:
            return keys.decoder_key(
                p["vk"], p["dkga"], p["pan"], p["sgc"], p["ti"], p["kt"], p["krn"], p["base"], ea
            )
        except ValueError as exc:
            _fail(str(exc))


_DK_OPTION = click.option("--dk", help="decoder key, natural MSB-first hex (instead of deriving)")
_DERIVE_OPTIONS = [
    click.option("--vk", help="vending key, hex: 8 bytes (DKGA02) or 20 bytes (DKGA04)"),
    click.option("--dkga", help="decoder key generation algorithm: 02 or 04"),
    click.option("--pan", help="18-digit meter PAN (IIN + IAIN + Luhn digit)"),
    click.option("--sgc", help="6-digit supply group code"),
    click.option("--ti", help="tariff index 0-99 (01 or 1)"),
    click.option("--kt", help="key type 0-3 (2 = DUTK, unique)"),
    click.option("--krn", help="key revision number 1-9"),
    click.option("--base", help="base date: 1993, 2014 or 2035"),
]


def _derive_options(func):
    """The options a decoder key is derived from (keychange: those of the current key)."""
    for option in reversed(_DERIVE_OPTIONS):
        func = option(func)
    return func


def _key_options(func):
    """--dk, or the derivation options."""
    return _DK_OPTION(_derive_options(func))


def _decoder_key(ea, dk, vk, dkga, pan, sgc, ti, kt, krn, base, required=True):
    """(decoder key or None, base year or None) from --dk or the derivation options."""
    derive = [vk, dkga, pan, sgc, ti, kt, krn]
    if dk is not None:
        if any(value is not None for value in derive):
            _fail("give --dk or the derivation options (--vk --dkga ...), not both")
        size = 8 if ea == token.EA07 else 16
        return _hex_key("--dk", dk, (size,)), (_base("--base", base) if base else None)
    if all(value is None for value in derive) and not required:
        return None, (_base("--base", base) if base else None)
    meter = _Meter(vk, dkga, pan, sgc, ti, kt, krn, base)
    return meter.key(ea), meter.base


def _issued(text, base):
    try:
        date, clock = text.strip().split()
        year, month, day = (int(x) for x in date.split("-"))
        hour, minute = (int(x) for x in clock.split(":"))
    except ValueError:
        _fail('--issued must be "YYYY-MM-DD HH:MM" (got %r)' % text)
    try:
        return tid_from_time(year, month, day, hour, minute, base)
    except ValueError as exc:
        _fail("--issued: %s" % exc)


def _emit(doc, as_json, lines):
    if as_json:
        click.echo(json.dumps(doc, sort_keys=True))
    else:
        for line in lines:
            click.echo(line)


def _grouped(digits):
    return " ".join(digits[i : i + 4] for i in range(0, 20, 4))


def _name(cls, sub):
    names = _SUBCLASS_NAMES.get(cls, ())
    return names[sub] if sub < len(names) else "reserved"


@click.group("sts")
def sts():
    """STS-compatible tokens (IEC 62055-41 classes 0/1/2, EA07/EA11, DKGA02/04)."""


@sts.command("encode")
@_key_options
@click.option("--ken", help="key expiry number 0-255 (255: no expiry)")
@click.option("--ea", required=True, help="encryption algorithm: 07 (STA) or 11 (MISTY1)")
@click.option("--issued", help='issue time, naive local "YYYY-MM-DD HH:MM"')
@click.option("--tid", "tid_text", help="TID in minutes since the base date (instead of --issued)")
@click.option("--rnd", default="0", show_default=True, help="random nibble 0-15")
@click.option("--class", "cls_text", required=True, help="token class 0, 1 or 2")
@click.option("--subclass", "sub_text", required=True, help="token subclass")
@click.option("--value", "value_text", required=True, help="value in the token's base unit")
@click.option("--mfr", default="0", show_default=True, help="class 1: manufacturer code")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def encode(
    dk, vk, dkga, pan, sgc, ti, kt, krn, base, ken, ea, issued, tid_text, rnd, cls_text,
    sub_text, value_text, mfr, as_json,
):  # fmt: skip
    """Print one token. --value is in the token's base unit before the amount encoding:
    0.1 kWh / 0.1 m3 (class 0 subclasses 0-3), 10^-5 currency units (4-7), watts (power
    limits), the register code (ClearCredit). The encoder rounds up to what the token can
    carry, as the standard does; the JSON's "value" is what it carries."""
    ea = _ea(ea)
    cls = _number("--class", cls_text, 0, 2)
    sub = _number("--subclass", sub_text, 0, 15)
    value = _parse_value(value_text)
    if cls == token.CLASS_TEST:
        digits = _encode_test(sub, value, mfr)
        doc = {"token": digits, "tid": None, "class": cls, "subclass": sub, "value": value}
        doc.update({"requested": value, "rnd": None, "ea": ea})
        _emit(doc, as_json, [_grouped(digits), "class 1/%d  control %d" % (sub, value)])
        return
    if cls == token.CLASS_MANAGEMENT and sub in token.KCT_SUBCLASSES:
        _fail("--subclass %d is a key change token: use `prepay sts keychange`" % sub)
    key, base = _decoder_key(ea, dk, vk, dkga, pan, sgc, ti, kt, krn, base)
    if dk is None and ken is None:
        _fail("--ken is required with --vk (the key's expiry number)")
    tid = _tid(issued, tid_text, base)
    if ken is not None:
        ken = _number("--ken", ken, 0, 255)
        if not ken_allows(tid, ken):
            _fail(
                "TID %d is past the key's KEN %d: the key expired at TID %d"
                % (tid, ken, (ken + 1) << 16)
            )
    rnd = _number("--rnd", rnd, 0, 15)
    try:
        digits = token.encode(key, ea, cls, sub, tid, value, rnd)
    except ValueError as exc:
        _fail("--value %d for class %d subclass %d: %s" % (value, cls, sub, exc))
    carried = token.decode(digits, key, ea)[3]
    currency = is_currency(cls, sub)
    doc = {"token": digits, "tid": tid, "class": cls, "subclass": sub, "value": carried}
    doc.update({"requested": value, "rnd": None if currency else rnd, "ea": ea})
    if base is not None:
        doc["base"] = base
    lines = [_grouped(digits), "class %d/%d %s  tid %d  value %d" % (
        cls, sub, _name(cls, sub), tid, carried)]  # fmt: skip
    if carried != value:
        lines.append("rounded up: the token carries %d, not %d" % (carried, value))
    _emit(doc, as_json, lines)


def _parse_value(text):
    text = (text or "").strip()
    body = text[1:] if text.startswith("-") else text
    if not body.isdigit():
        _fail("--value must be an integer in the token's base unit (got %r)" % text)
    return int(text)


def _encode_test(sub, control, mfr):
    try:
        return token.encode_test(sub, control, _number("--mfr", mfr, 0, 9999))
    except ValueError as exc:
        _fail("class 1: %s" % exc)


def _tid(issued, tid_text, base):
    if (issued is None) == (tid_text is None):
        _fail("give exactly one of --issued and --tid")
    if tid_text is not None:
        tid = _number("--tid", tid_text, 0, 1 << 62)
        if tid > TID_MAX:
            _fail(
                "--tid %d is outside the 24 bits of a base date (0..%d minutes)" % (tid, TID_MAX)
            )
        return tid
    if base is None:
        _fail("--issued needs --base (the TID counts minutes from the base date)")
    return _issued(issued, base)


@sts.command("decode")
@_key_options
@click.option("--ea", default=None, help="encryption algorithm: 07 (STA) or 11 (MISTY1)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.argument("digits", nargs=-1, required=True)
def decode(dk, vk, dkga, pan, sgc, ti, kt, krn, base, ea, as_json, digits):
    """Decode a token (DIGITS may be split by spaces or dashes). Class 1 needs no key.

    A CRC failure (wrong key, wrong EA, a mistyped digit) exits 1; with --json the object,
    with "crc_ok": false, is still printed."""
    try:
        text = normalize(" ".join(digits))
        cls, _ = token.from_digits(text)
    except ValueError as exc:
        _fail(str(exc))
    if cls == 3:
        _fail("class 3 is reserved: not a token this tool can decode")
    if cls == token.CLASS_TEST:
        key, ea_num = None, token.EA07
        base = _base("--base", base) if base else None
    else:
        if ea is None:
            _fail("--ea is required for a class %d token (07 or 11)" % cls)
        ea_num = _ea(ea)
        key, base = _decoder_key(ea_num, dk, vk, dkga, pan, sgc, ti, kt, krn, base, False)
        if key is None:
            _fail("a class %d token needs a key: --dk, or --vk --dkga --pan ..." % cls)
    cls, block = token.decode_block(text, key, ea_num)
    sub, tid, value, rnd, ok = token.fields(cls, block)
    doc = {"token": text, "class": cls, "subclass": sub, "tid": tid, "value": value}
    doc.update({"rnd": rnd, "crc_ok": ok, "name": _name(cls, sub)})
    if cls != token.CLASS_TEST:
        doc["ea"] = ea_num
    _describe(doc, cls, sub, block, base)
    lines = [
        "class %d/%d %s  tid %s  value %s  rnd %s  crc %s"
        % (cls, sub, doc["name"], tid, value, rnd, "ok" if ok else "FAILED")
    ]
    if "issued" in doc:
        lines.append("issued %s (base %d)" % (doc["issued"], base))
    _emit(doc, as_json, lines)
    if not ok:
        _fail("CRC check failed: wrong key, wrong EA, or a mistyped digit")


def _describe(doc, cls, sub, block, base):
    if cls == token.CLASS_TEST and sub <= 1:
        control, mfr = token.test_fields(block)
        doc["control"] = control
        doc["mfr_code"] = mfr
        doc["tests"] = [bit for bit in range(36) if control >> bit & 1]
    elif cls == token.CLASS_MANAGEMENT and sub in token.KCT_SUBCLASSES:
        extra = token.kct_fields(block)
        if sub == token.KCT_1ST:
            names = ("kenho", "krn", "ro", "res", "kt")
        elif sub == token.KCT_2ND:
            names = ("kenlo", "ti")
        else:
            names = ("sgc_bits",)
        doc.update(zip(names, extra, strict=True))
        doc["key_part"] = "%08x" % doc["value"]
    elif doc["tid"] is not None and base is not None:
        y, mo, d, h, mi = time_from_tid(doc["tid"], base)
        doc["issued"] = "%04d-%02d-%02d %02d:%02d" % (y, mo, d, h, mi)
        doc["base"] = base
    if cls == token.CLASS_CREDIT and sub <= 7:
        doc["unit"] = "1e-5 currency" if sub >= 4 else ("0.1 kWh", "0.1 m3", "0.1 m3", "0.1")[sub]


@sts.command("key")
@_derive_options
@click.option("--ea", required=True, help="encryption algorithm: 07 (STA) or 11 (MISTY1)")
@click.option("--json", "as_json", is_flag=True, help="accepted; the output is always JSON")
def key_cmd(vk, dkga, pan, sgc, ti, kt, krn, base, ea, as_json):
    """Print the meter's decoder key as {"dk": natural MSB-first hex}."""
    ea = _ea(ea)
    dk = _Meter(vk, dkga, pan, sgc, ti, kt, krn, base).key(ea)
    click.echo(json.dumps({"dk": dk.hex()}))


@sts.command("keychange")
@_derive_options
@click.option("--ea", required=True, help="encryption algorithm: 07 (STA) or 11 (MISTY1)")
@click.option("--new-ti", "new_ti", required=True, help="the new key's tariff index")
@click.option("--new-krn", "new_krn", required=True, help="the new key revision number")
@click.option("--new-kt", "new_kt", required=True, help="the new key type")
@click.option("--new-base", "new_base", help="the new base date (default: unchanged)")
@click.option("--new-dkga", "new_dkga", help="the new key's DKGA (default: unchanged)")
@click.option("--new-vk", "new_vk", help="the new key's vending key (default: --vk)")
@click.option("--ken", required=True, help="the new key's expiry number 0-255")
@click.option("--ro", required=True, help="rollover: 1 clears the meter's TID memory")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def keychange(
    vk, dkga, pan, sgc, ti, kt, krn, base, ea, new_ti, new_krn, new_kt, new_base, new_dkga,
    new_vk, ken, ro, as_json,
):  # fmt: skip
    """Print the key change tokens (2 for EA07, 4 for EA11), enciphered under the old key
    (derived from --vk --dkga --pan --sgc --ti --kt --krn --base, the current key).

    Changing the base date needs --ro 1: the meter must clear its TID memory, or every token
    on the new base would look OLD."""
    ea = _ea(ea)
    meter = _Meter(vk, dkga, pan, sgc, ti, kt, krn, base)
    changes = {
        "ti": _number("--new-ti", new_ti, 0, 99),
        "krn": _number("--new-krn", new_krn, 1, 9),
        "kt": _number("--new-kt", new_kt, 0, 3),
        "base": _base("--new-base", new_base) if new_base else meter.base,
        "dkga": _dkga("--new-dkga", new_dkga) if new_dkga else meter.dkga,
    }
    ken = _number("--ken", ken, 0, 255)
    ro = _number("--ro", ro, 0, 1)
    if changes["base"] != meter.base and ro != 1:
        _fail("--new-base %d changes the base date: it needs --ro 1" % changes["base"])
    size = 8 if changes["dkga"] == keys.DKGA02 else 20
    changes["vk"] = _hex_key("--new-vk", new_vk, (size,)) if new_vk else meter.vk
    if len(changes["vk"]) != size:
        _fail(
            "--new-dkga %02d needs a %d-byte vending key: give --new-vk" % (changes["dkga"], size)
        )
    old, new = meter.key(ea), meter.key(ea, **changes)
    try:
        tokens = token.encode_kct(
            old, ea, new, ken, changes["krn"], ro, changes["kt"], changes["ti"], meter.sgc
        )
    except ValueError as exc:
        _fail(str(exc))
    doc = {"tokens": tokens, "ea": ea, "ro": ro, "ken": ken}
    doc.update({"new_" + k: v for k, v in changes.items() if k != "vk"})
    labels = ["KCT%d" % (i + 1) for i in range(len(tokens))]
    _emit(doc, as_json, ["%s %s" % (n, _grouped(t)) for n, t in zip(labels, tokens, strict=True)])


@sts.command("rollover")
@click.option("--sgc", required=True, help="Supply group code (6 digits).")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document")
@station_command
def rollover(station, sgc, as_json):
    """TID rollover campaign: move every meter of a supply group to base 2014 and DKGA04
    (KRN + 1, RO = 1). Each meter's next sale carries its key change tokens;
    `prepay report rollover` shows the progress."""
    from host_tools.vending import sts_meters

    done = sts_meters.rollover(station, sgc)

    def show(console, d):
        console.print(
            f"supply group {d['sgc']}: {len(d['moved'])} meter(s) moved to base 2014/DKGA04, "
            f"{len(d['already'])} already there, {len(d['waiting'])} waiting for an earlier "
            "key change to be proven (run again later)"
        )

    emit(done, as_json, show)


def register(main):
    """Attach this module's commands to the top-level group."""
    main.add_command(sts)
