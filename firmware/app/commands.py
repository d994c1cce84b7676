"""The serial protocol's commands: one small function per command, one dispatch table.

`handle_line(app, line)` turns one request line into one response line; it never raises
(anything unexpected becomes an `internal` error and the meter carries on). Command reference:
docs/firmware.md.
"""

import gc

from firmware.app import protocol as p
from firmware.app.keypad import VALID_KEYS
from firmware.version import PROTOCOL, VERSION
from token_spec.compat import const

_EVENTS_PER_PAGE = const(8)  # keeps an `events` response below 1 KiB
_CONFIG_CHUNK = const(512)  # characters of config JSON per `config.get` page
_MAX_CONFIG_BLOB = const(4000)  # a signed blob may arrive in several `config.set` parts
_MAX_SIM_SECONDS = const(31 * 86400)


def _need_meter(app):
    if app.meter is None:
        raise p.CommandError(p.NOT_PROVISIONED, "the meter is not provisioned yet")
    return app.meter


def cmd_hello(app, req):
    meter = app.meter
    return {
        "firmware": VERSION,
        "protocol": PROTOCOL,
        "hal": app.hal.name,
        "provisioned": meter is not None,
        "storage": app.storage(),
        "meter_number": None if meter is None else meter.meter_number,
        "time": app.hal.now(),
        "clock_valid": getattr(app.hal, "clock_valid", _true)(),
    }


def _true():
    return True


def cmd_status(app, req):
    return app.status()


def cmd_token(app, req):
    from token_spec.codec import normalize_token
    from token_spec.errors import TokenError

    _need_meter(app)
    try:
        digits = normalize_token(p.arg_str(req, "token", 40))
    except TokenError:
        raise p.CommandError(
            p.BAD_ARGUMENT, "token must be 20 digits (spaces and dashes allowed)"
        ) from None
    result = app.enter_token(digits)
    s = app.status()
    return {"result": result, "credit": s["credit"], "credit_text": s["credit_text"]}


def cmd_events(app, req):
    since = p.arg_int(req, "since", 0, 0x7FFFFFFF, 0)
    if app.meter is None:
        return {"events": [], "more": False, "last": 0}
    from firmware.app.meter_app import describe_event

    found = app.meter.events.since(since)
    page = [describe_event(e) for e in found[:_EVENTS_PER_PAGE]]
    return {
        "events": page,
        "more": len(found) > _EVENTS_PER_PAGE,
        "last": app.meter.events.next_seq - 1,
    }


_PROVISION_FIELDS = (
    "meter_number",
    "decoder_key",
    "maintenance_key",
    "key_revision",
    "unit",
    "scale",
    "pulses_per_kwh",
    "tariff",
    "config",
    "format",
    "sts",
)


def cmd_provision(app, req):
    from firmware.core.config import ConfigError

    if app.meter is not None:
        raise p.CommandError(
            p.ALREADY_PROVISIONED, "the meter is provisioned; settings change only by token"
        )
    if app.store.damaged:
        from firmware.core.meter_store import DAMAGED_MESSAGE

        raise p.CommandError(p.STORAGE_DAMAGED, DAMAGED_MESSAGE)
    p.arg_str(req, "meter_number", 20)
    p.arg_hex(req, "decoder_key", 16)
    clock = p.arg_int(req, "time", 0, 0x7FFFFFFF) if "time" in req else None
    settings = {}
    for name in _PROVISION_FIELDS:
        if name in req:
            settings[name] = req[name]
    network = _check_network(req["network"]) if "network" in req else None
    if network is not None:
        _save_network(app, network)  # before the meter exists: provision starts the link
    try:
        app.provision(settings, clock)  # sets the clock only once the meter is committed
    except ConfigError as exc:
        if network is not None:
            _save_network(app, None)  # a refused provision leaves nothing behind
        raise p.CommandError(p.BAD_ARGUMENT, str(exc)) from None
    return {"provisioned": True, "meter_number": app.meter.meter_number}


def _check_network(value):
    from firmware.net.settings import check

    try:
        return check(value)
    except ValueError as exc:
        raise p.CommandError(p.BAD_ARGUMENT, str(exc)) from None


def _save_network(app, settings):
    import os

    from firmware.net.settings import save

    path = app.net_path("net.json")
    if settings is not None:
        save(path, settings)
        return
    try:
        os.remove(path)
    except OSError:
        pass


def cmd_net_set(app, req):
    """Network settings for a meter (provisioned or not); `{"network": null}` removes them.
    They change neither credit nor supply, so they need no token; the answer shows no secret."""
    if "network" not in req:
        raise p.CommandError(p.BAD_ARGUMENT, "network is required (an object, or null)")
    value = req["network"]
    settings = None if value is None else _check_network(value)
    _save_network(app, settings)
    # a fresh upload cursor file is not needed: events the head-end already has are ignored
    app.start_network()
    from firmware.net.settings import public

    return {"network": None if settings is None else public(settings)}


def cmd_config_get(app, req):
    import json

    meter = _need_meter(app)
    offset = p.arg_int(req, "offset", 0, 0x100000, 0)
    text = json.dumps(meter.config.source)
    s = meter.settings
    return {
        "counter": meter.config.counter,
        "unit": s["unit"],
        "scale": s["scale"],
        "pulses_per_kwh": s["pulses_per_kwh"],
        "key_revision": meter.key_revision,
        "size": len(text),
        "offset": offset,
        "text": text[offset : offset + _CONFIG_CHUNK],
    }


def cmd_config_set(app, req):
    from firmware.core.config import ConfigError

    _need_meter(app)
    part = p.arg_str(req, "blob", p.MAX_LINE)
    more = req.get("more", False)
    if more is not True and more is not False:
        raise p.CommandError(p.BAD_ARGUMENT, "more must be true or false")
    if len(app.config_parts) + len(part) > _MAX_CONFIG_BLOB:
        app.config_parts = ""
        raise p.CommandError(
            p.BAD_ARGUMENT, "config blob longer than %d characters" % _MAX_CONFIG_BLOB
        )
    app.config_parts += part
    if more:
        return {"received": len(app.config_parts)}
    blob = app.config_parts
    app.config_parts = ""
    try:
        counter = app.apply_config(blob)
    except ConfigError as exc:
        raise p.CommandError(p.REFUSED, str(exc)) from None
    return {"applied": True, "counter": counter}


def cmd_keypad(app, req):
    keys = p.arg_str(req, "keys", 64)
    for k in keys:
        if k not in VALID_KEYS:
            raise p.CommandError(p.BAD_ARGUMENT, "keys may only hold 0-9, A-D, * and #")
    results = app.press_keys(keys)
    return {"results": results, "typed": len(app.keypad.digits), "display": app.display_lines()}


def cmd_ec_activate(app, req):
    _need_meter(app)
    granted = app.activate_emergency()
    return {"granted": granted, "emergency_credit": app.status()["emergency_credit"]}


def cmd_bench_pulses(app, req):
    count = p.arg_int(req, "count", 0, 100000)
    try:
        app.hal.bench_pulses(count)
    except ValueError as exc:
        raise p.CommandError(p.NOT_SUPPORTED, str(exc)) from None
    if app.hal.name == "sim":
        app.step()  # simulated pulses arrive at once; a board's take 60 ms each
    return {"queued": count}


# ---- simulator only -----------------------------------------------------------------------


def cmd_sim_load(app, req):
    app.hal.set_load(p.arg_int(req, "watts", 0, 1000000))
    return {"watts": app.hal.load_w}


def cmd_sim_pulses(app, req):
    count = p.arg_int(req, "count", 0, 1000000)
    app.hal.inject_pulses(count)
    app.step()
    return {"injected": count}


def cmd_sim_advance(app, req):
    app.advance(p.arg_int(req, "seconds", 0, _MAX_SIM_SECONDS))
    return {"time": app.hal.now()}


def cmd_sim_time(app, req):
    app.hal.set_time(p.arg_int(req, "time", 0, 0x7FFFFFFF))
    app.step()
    return {"time": app.hal.now()}


def cmd_sim_power_cut(app, req):
    app.power_cut_pending = True  # the serial task cuts power once this answer is written
    return {"power_cut": True}


def cmd_sim_tamper(app, req):
    app.hal.set_tamper(p.arg_bool(req, "open"))
    app.step()
    return {"open": app.hal.tamper_open()}


def cmd_sim_stall(app, req):
    seconds = p.arg_int(req, "seconds", 1, 60)
    app.hal.stall(seconds)  # the loop hangs in its next iteration, after this answer
    return {"stall_s": seconds}


def cmd_sim_net(app, req):
    app.hal.set_net(p.arg_bool(req, "up"))
    return {"up": app.hal.net_ready()}


def cmd_sim_display(app, req):
    return {"lines": app.display_lines()}


COMMANDS = {
    "hello": cmd_hello,
    "status": cmd_status,
    "token": cmd_token,
    "events": cmd_events,
    "provision": cmd_provision,
    "config.get": cmd_config_get,
    "config.set": cmd_config_set,
    "keypad": cmd_keypad,
    "ec.activate": cmd_ec_activate,
    "bench.pulses": cmd_bench_pulses,
    "net.set": cmd_net_set,
}

SIM_COMMANDS = {
    "sim.load": cmd_sim_load,
    "sim.pulses": cmd_sim_pulses,
    "sim.advance": cmd_sim_advance,
    "sim.time": cmd_sim_time,
    "sim.power_cut": cmd_sim_power_cut,
    "sim.tamper": cmd_sim_tamper,
    "sim.display": cmd_sim_display,
    "sim.stall": cmd_sim_stall,
    "sim.net": cmd_sim_net,
}


def _find(app, cmd):
    if cmd.startswith("update."):
        # Loaded on first use: the update code costs the meter's heap nothing until then.
        from firmware.update.commands import UPDATE_COMMANDS

        if cmd in UPDATE_COMMANDS:
            return UPDATE_COMMANDS[cmd]
    func = COMMANDS.get(cmd)
    if func is None and app.hal.name == "sim":
        func = SIM_COMMANDS.get(cmd)
    if func is None:
        if cmd in SIM_COMMANDS:
            raise p.CommandError(p.NOT_SUPPORTED, cmd + " exists only on the simulator")
        raise p.CommandError(p.UNKNOWN_COMMAND, "unknown command " + cmd[:40])
    return func


def handle_line(app, line):
    """The response line (bytes) for one request line, or None for a blank line."""
    if line is None:
        return p.encode_error(None, p.LINE_TOO_LONG, "line longer than %d bytes" % p.MAX_LINE)
    if p.is_blank(line):
        return None
    req_id = None
    try:
        req_id, cmd, req = p.parse_request(line)
        out = p.encode_response(req_id, _find(app, cmd)(app, req))
    except p.CommandError as exc:
        return p.encode_error(getattr(exc, "req_id", req_id), exc.code, exc.message)
    except MemoryError:
        gc.collect()
        return p.encode_error(req_id, p.NO_MEMORY, "out of memory handling the request")
    except Exception as exc:  # a bug must not take the meter down: report it and carry on
        return p.encode_error(req_id, p.INTERNAL, type(exc).__name__ + ": " + str(exc)[:200])
    if len(out) > p.MAX_LINE:
        return p.encode_error(req_id, p.INTERNAL, "response longer than %d bytes" % p.MAX_LINE)
    return out
