"""An outbox row -> the words of each message, from Jinja2 templates, one file per language
(templates/en.j2, templates/zh.j2). Each file has, per kind, a macro `KIND_subject`, `KIND_sms`
(short, one SMS) and `KIND_email` (the e-mail body); the figures come from `figures()`.

Rendered when the dispatcher fans a row out, so a message keeps the figures of the moment it
announces; money and energy are formatted here from integers (money.fmt, units_text)."""

import json
from pathlib import Path

import jinja2

from host_tools.vending import registry, vend
from host_tools.vending.money import fmt
from token_spec.units import units_text

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=False,  # plain text: SMS and text/plain e-mail
    undefined=jinja2.StrictUndefined,  # a missing figure is a bug, never an empty gap
    keep_trailing_newline=False,
)
_MODULES = {}


def _module(language):
    if language not in _MODULES:
        _MODULES[language] = _ENV.get_template(f"{language}.j2").module
    return _MODULES[language]


def render(language, kind, figures):
    """{"subject", "sms", "email"} for one message."""
    module = _module(language)
    return {
        part: str(getattr(module, f"{kind}_{part}")(figures)).strip()
        for part in ("subject", "sms", "email")
    }


def _credit_text(meter, tariff, credit):
    """(credit as text with its unit, its money value as text)."""
    if meter.unit == "currency":
        minor = credit * 100 // meter.scale
        return fmt(minor), fmt(minor)
    # kWh meters: the value at the tariff's first block price (an estimate, docs/notify.md).
    price = tariff["blocks"][0][1]  # 1/10,000 currency units per kWh
    return units_text(credit, meter.scale) + " kWh", fmt(credit * price // (meter.scale * 100))


def figures(conn, outbox_row):
    """What the templates of one outbox row show (all text, formatted from integers)."""
    data = json.loads(outbox_row.data)
    meter = registry.get_meter(conn, outbox_row.meter)
    tariff = registry.get_tariff(conn, meter.tariff)
    out = {"meter": meter.number, "customer": meter.customer or "", "kind": outbox_row.kind}
    kind = outbox_row.kind
    if kind == "topup":
        receipt = vend.receipt(conn, txn_id=data["txn_id"])
        out.update(
            receipt=receipt["receipt"],
            amount=receipt["amount"],
            units=receipt["units_text"],  # "20.000 kWh" / "20.00 credit": English words
            # the figure alone, for templates that name the unit in their own language
            units_figure=units_text(receipt["units"], receipt["scale"]),
            unit=meter.unit,
            # Keypad meters need the digits; a meter the head-end tops up remotely does not.
            token=None if data.get("remote") else receipt["token_grouped"],
        )
    if "credit" in data:
        out["credit"], out["credit_value"] = _credit_text(meter, tariff, data["credit"])
    if kind == "credit_low":
        used = data.get("used_14d") or 0
        seconds = data.get("used_seconds") or 14 * 86400  # rows queued before it was stored
        # Days left at the rate of the last 14 days (or of fewer, for a newer meter), rounded
        # down; None (not shown) without consumption data.
        out["days_left"] = data["credit"] * seconds // (used * 86400) if used > 0 else None
        out["used_days"] = seconds // 86400
    if kind == "emergency_credit":
        out["granted"] = _credit_text(meter, tariff, data.get("granted", 0))[0]
    if kind == "debt_reminder":
        out["owed"] = fmt(data["owed"])
    if kind == "statement":
        out.update(
            month=data["month"],
            energy=units_text(data["energy"], meter.scale) + " kWh"
            if meter.unit == "kwh"
            else fmt(data["energy"] * 100 // meter.scale),
            purchases=data["purchases"],
            purchased=fmt(data["purchased"]),
            avg_daily=fmt(data["purchased"] // data["days"]),
        )
        used = data.get("used")  # from the head-end's readings; None for keypad-only meters
        out["used"] = None if used is None else _credit_text(meter, tariff, used)[0]
    return out
