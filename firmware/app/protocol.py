"""Serial protocol framing: JSON lines of at most 1 KiB, requests, responses, events.

Pure code (no I/O): the serial task feeds received bytes to a `LineFramer`, hands each complete
line to `parse_request`, and writes what `encode_response` / `encode_error` / `encode_event`
return. The commands themselves live in `firmware.app.commands`. Reference: docs/firmware.md.
"""

import json

from token_spec.compat import const
from token_spec.meter_link import MAX_LINE  # 1 KiB a line, newline included, both ways

# Error codes (the `error` field of a failed response); docs/firmware.md explains each.
BAD_JSON = "bad_json"
LINE_TOO_LONG = "line_too_long"
BAD_REQUEST = "bad_request"
UNKNOWN_COMMAND = "unknown_command"
BAD_ARGUMENT = "bad_argument"
NOT_PROVISIONED = "not_provisioned"
ALREADY_PROVISIONED = "already_provisioned"
# `provision` on a journal whose registers outlived their settings record (docs/firmware.md).
STORAGE_DAMAGED = "storage_damaged"
NOT_SUPPORTED = "not_supported"
REFUSED = "refused"
NO_MEMORY = "no_memory"
INTERNAL = "internal"

# An id is echoed back verbatim, so it is kept short: an int or a string of <= 40 characters.
_MAX_ID_TEXT = const(40)
_MAX_INT_ID = const(0x3FFFFFFF)


class CommandError(Exception):
    """A request that cannot be carried out: `code` is one of the error codes above."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class LineFramer:
    """Splits a byte stream into lines; a line longer than MAX_LINE becomes one marker.

    `feed(data)` returns the complete lines found (bytes without the newline; a trailing
    carriage return is dropped). An over-long line is discarded up to its newline and reported
    as the single item `None`, so the caller answers it with exactly one `line_too_long` error.
    Memory stays bounded: at most MAX_LINE bytes are ever buffered.
    """

    def __init__(self):
        self._buf = bytearray()
        self._overflow = False

    def feed(self, data):
        out = []
        start = 0
        n = len(data)
        while start < n:
            nl = data.find(b"\n", start)
            end = n if nl < 0 else nl
            if not self._overflow:
                if len(self._buf) + (end - start) + 1 > MAX_LINE:
                    self._overflow = True
                    self._buf = bytearray()
                else:
                    self._buf.extend(data[start:end])
            if nl < 0:
                break
            if self._overflow:
                out.append(None)
                self._overflow = False
            else:
                line = bytes(self._buf)
                if line.endswith(b"\r"):
                    line = line[:-1]
                out.append(line)
                self._buf = bytearray()
            start = nl + 1
        return out

    def pending(self):
        """Bytes of the unfinished line buffered so far."""
        return len(self._buf)


def is_blank(line):
    """Blank lines (only spaces and tabs) are ignored: a client may send one to resync."""
    return not line.strip()


def _valid_id(value):
    if type(value) is int:
        return -_MAX_INT_ID <= value <= _MAX_INT_ID
    return type(value) is str and len(value) <= _MAX_ID_TEXT


def parse_request(line):
    """(id, cmd, request dict) of one line, or raise CommandError carrying the id if known.

    The error's `req_id` attribute is the request's id when it could be read (else None), so
    even a malformed request is answered with its own id.
    """
    try:
        req = json.loads(line.decode())
    except (ValueError, UnicodeError):
        raise _error(None, BAD_JSON, "line is not valid JSON") from None
    if type(req) is not dict:
        raise _error(None, BAD_REQUEST, "a request must be a JSON object")
    req_id = req.get("id")
    if not _valid_id(req_id):
        raise _error(None, BAD_REQUEST, "id must be an integer or a string of <= 40 characters")
    cmd = req.get("cmd")
    if type(cmd) is not str or not cmd:
        raise _error(req_id, BAD_REQUEST, "cmd must be a non-empty string")
    return req_id, cmd, req


def _error(req_id, code, message):
    exc = CommandError(code, message)
    exc.req_id = req_id
    return exc


def _line(obj):
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


def encode_response(req_id, result):
    """The response line for a successful request."""
    return _line({"id": req_id, "ok": True, "result": result})


def encode_error(req_id, code, message):
    """The response line for a failed request."""
    return _line({"id": req_id, "ok": False, "error": code, "message": message})


def encode_event(fields):
    """An unsolicited event line; `fields` must hold "event" (the kind name)."""
    return _line(fields)


# ---- argument helpers used by the command functions -------------------------------------


def arg_int(req, name, lo, hi, default=None):
    """An integer argument within [lo, hi]; `default` (if not None) when it is absent."""
    value = req.get(name)
    if value is None and default is not None:
        return default
    if type(value) is not int:
        raise CommandError(BAD_ARGUMENT, name + " must be an integer")
    if value < lo or value > hi:
        raise CommandError(BAD_ARGUMENT, "%s must be between %d and %d" % (name, lo, hi))
    return value


def arg_str(req, name, max_len, default=None):
    """A string argument of at most max_len characters."""
    value = req.get(name)
    if value is None and default is not None:
        return default
    if type(value) is not str:
        raise CommandError(BAD_ARGUMENT, name + " must be a string")
    if len(value) > max_len:
        raise CommandError(BAD_ARGUMENT, "%s is longer than %d characters" % (name, max_len))
    return value


def arg_bool(req, name):
    """A required true/false argument."""
    value = req.get(name)
    if value is not True and value is not False:
        raise CommandError(BAD_ARGUMENT, name + " must be true or false")
    return value


def arg_choice(req, name, choices):
    """A string argument that must be one of `choices`."""
    value = req.get(name)
    if value not in choices:
        raise CommandError(BAD_ARGUMENT, "%s must be one of %s" % (name, ", ".join(choices)))
    return value


def arg_hex(req, name, max_bytes):
    """A hexadecimal string argument, returned as bytes."""
    text = arg_str(req, name, 2 * max_bytes)
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise CommandError(BAD_ARGUMENT, name + " must be hexadecimal") from None
