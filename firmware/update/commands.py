"""The `update.*` protocol commands (docs/firmware.md, "Field updates").

    update.begin  {"header": "pu1...."}     -> {"slot", "version", "size", "chunk"}
    update.chunk  {"offset": n, "data": b64} -> {"received"}
    update.finish {}                        -> {"version", "slot", "restarting": true}
    update.abort  {}                        -> {"aborted": bool}
    update.status {}                        -> {"running", "version", "receiving", "received"}

Every refusal is a `refused` error that changes nothing the meter runs on.
"""

import binascii

from firmware.app import protocol as p
from firmware.update.receiver import UpdateRefused, begin
from firmware.version import VERSION
from token_spec.compat import const
from token_spec.update_bundle import MAX_HEADER

# Payload bytes per chunk: base64 grows them to 896 characters, which with the request's
# other fields stays below the 1 KiB line.
MAX_CHUNK = const(672)


def _receiver(app):
    rx = getattr(app, "update", None)
    if rx is None:
        raise p.CommandError(p.BAD_REQUEST, "no update in progress: send update.begin first")
    return rx


def _drop(app):
    rx = getattr(app, "update", None)
    app.update = None
    if rx is not None:
        rx.discard()
    return rx is not None


def cmd_begin(app, req):
    if app.meter is None:
        raise p.CommandError(p.NOT_PROVISIONED, "the meter is not provisioned yet")
    header = p.arg_str(req, "header", MAX_HEADER)
    _drop(app)  # a new begin abandons an update cut short
    try:
        rx = begin(app.hal, app.meter, VERSION, header)
    except UpdateRefused as exc:
        raise p.CommandError(p.REFUSED, str(exc)) from None
    app.update = rx
    return {
        "slot": rx.slot.name,
        "version": rx.info["version"],
        "size": rx.size,
        "chunk": MAX_CHUNK,
    }


def cmd_chunk(app, req):
    rx = _receiver(app)
    offset = p.arg_int(req, "offset", 0, rx.size)
    text = p.arg_str(req, "data", p.MAX_LINE)
    try:
        data = binascii.a2b_base64(text)
    except ValueError:
        raise p.CommandError(p.BAD_ARGUMENT, "data must be base64") from None
    if len(data) > MAX_CHUNK:
        raise p.CommandError(p.BAD_ARGUMENT, "a chunk holds at most %d bytes" % MAX_CHUNK)
    try:
        rx.write(offset, data)
    except UpdateRefused as exc:
        raise p.CommandError(p.BAD_ARGUMENT, str(exc)) from None
    return {"received": rx.received}


def cmd_finish(app, req):
    rx = _receiver(app)
    app.update = None
    try:
        rx.finish()
    except UpdateRefused as exc:
        raise p.CommandError(p.REFUSED, str(exc)) from None
    # The same commit the meter makes on any change, so the restart loses nothing.
    app.store.save(app.meter, app.hal.now())
    app.reset_pending = True  # the runner restarts the meter once this answer is written
    return {"version": rx.info["version"], "slot": rx.slot.name, "restarting": True}


def cmd_abort(app, req):
    return {"aborted": _drop(app)}


def cmd_status(app, req):
    rx = getattr(app, "update", None)
    return {
        "running": app.hal.running_slot(),
        "version": VERSION,
        "receiving": None if rx is None else rx.info["version"],
        "received": 0 if rx is None else rx.received,
    }


UPDATE_COMMANDS = {
    "update.begin": cmd_begin,
    "update.chunk": cmd_chunk,
    "update.finish": cmd_finish,
    "update.abort": cmd_abort,
    "update.status": cmd_status,
}
