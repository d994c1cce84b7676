"""The HTTP API for payment channels: /api/v1, `Authorization: Bearer KEY` (see
host_tools/vending/apikeys.py), JSON in and out, errors as {"error": code, "message": text}.

POST /api/v1/vends is idempotent by `ref`: the same ref returns the same receipt and token; the
same ref with another meter or amount is 409. A key sells only as its own channel and sees only
its own references.
"""

import json
import threading
import time

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from host_tools.vending import StationError, apikeys, lookup, mgmt, registry, vend
from host_tools.vending.money import fmt, parse_amount

RECEIPT_FIELDS = (
    "receipt",
    "meter",
    "customer",
    "amount",
    "channel",
    "units_text",
    "token",
    "token_grouped",
    "created_at",
    "reversed_by",
)


DEFAULT_RATE = 600  # requests per minute per key (station.json "api_rate_per_minute")


class ApiError(Exception):
    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers


class RateLimiter:
    """A token bucket per API key: `per_minute` requests, refilled continuously, so a key may
    burst up to a minute's worth and then gets one request per 60/per_minute seconds. In this
    server process's memory (one `prepay serve` process per station database)."""

    def __init__(self, per_minute, clock=time.monotonic):
        self.per_minute, self.clock = per_minute, clock
        self._buckets, self._lock = {}, threading.Lock()

    def allow(self, key_id):
        """0 when the request may go ahead, else the seconds to wait."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.per_minute, now))
            tokens = min(self.per_minute, tokens + (now - last) * self.per_minute / 60)
            if tokens >= 1:
                self._buckets[key_id] = (tokens - 1, now)
                return 0
            self._buckets[key_id] = (tokens, now)
            return (1 - tokens) * 60 / self.per_minute


def rate_limiter(station):
    config = station.config if station is not None else {}
    per_minute = int(config.get("api_rate_per_minute", DEFAULT_RATE))
    return RateLimiter(per_minute)


def error_response(status, code, message):
    return JSONResponse({"error": code, "message": message}, status_code=status)


def api(handler):
    """Authenticate the Bearer key, then run `handler(request, key_row)`; errors as JSON."""

    async def run(request):
        try:
            header = request.headers.get("authorization", "")
            scheme, _, key_text = header.partition(" ")
            key = None
            if scheme.lower() == "bearer" and key_text:
                station = request.app.state.station
                key = await run_in_threadpool(
                    station.read, lambda conn: apikeys.lookup(conn, key_text)
                )
            if key is None:
                raise ApiError(401, "unauthorized", "a valid API key is required (Bearer)")
            wait = request.app.state.rate_limiter.allow(key.id)
            if wait:
                seconds = max(1, round(wait + 0.5))
                raise ApiError(
                    429,
                    "rate_limited",
                    f"too many requests for this key: retry in {seconds} s",
                    {"retry-after": str(seconds)},
                )
            return await handler(request, key)
        except ApiError as error:
            response = error_response(error.status, error.code, error.message)
            response.headers.update(error.headers or {})
            return response

    run.__name__ = handler.__name__
    run.api = True
    return run


def _public_receipt(receipt, ref, replayed):
    out = {field: receipt.get(field) for field in RECEIPT_FIELDS}
    out["ref"] = ref
    out["replayed"] = bool(replayed)
    return out


async def _json_body(request):
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise ApiError(400, "bad_json", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "the body must be a JSON object")
    return body


@api
async def post_vend(request, key):
    body = await _json_body(request)
    station = request.app.state.station
    missing = [f for f in ("meter", "amount", "ref", "channel") if body.get(f) in (None, "")]
    if missing:
        raise ApiError(400, "missing_field", f"missing: {', '.join(missing)}")
    meter, amount, ref, channel = (str(body[f]) for f in ("meter", "amount", "ref", "channel"))
    if channel != key.channel:
        raise ApiError(403, "wrong_channel", f"this key sells as channel {key.channel!r} only")
    try:
        stored_ref = apikeys.ledger_ref(key, ref)
        minor = parse_amount(amount)
    except StationError as error:
        raise ApiError(400, "invalid", str(error)) from None
    await _check_reuse(station, stored_ref, ref, meter, minor, channel)
    try:
        receipt = await run_in_threadpool(
            vend.sell, station, meter, amount, stored_ref, channel, apikeys.cashier_of(key)
        )
    except StationError as error:
        # A concurrent request with the same ref but another amount wins the race: 409.
        await _check_reuse(station, stored_ref, ref, meter, minor, channel)
        code = 404 if "not registered" in str(error) else 422
        raise ApiError(code, "not_found" if code == 404 else "refused", str(error)) from None
    status = 200 if receipt.get("replayed") else 201
    return JSONResponse(_public_receipt(receipt, ref, receipt.get("replayed")), status)


async def _check_reuse(station, stored_ref, ref, meter, minor, channel):
    found = await run_in_threadpool(lookup.sale_by_ref, station, stored_ref)
    if found is None:
        return
    used_meter, used_amount, used_channel, _receipt = found
    try:
        same_meter = used_meter == registry.check_meter(meter)
    except StationError:
        same_meter = False
    if not same_meter or used_amount != minor or used_channel != channel:
        raise ApiError(
            409,
            "ref_conflict",
            f"ref {ref!r} was already used for {fmt(used_amount)} on meter {used_meter}"
            f" ({used_channel})",
        )


@api
async def post_reversal(request, key):
    """Reverse one of this operator's sales by its ref (supervisor keys only)."""
    if key.role != "supervisor":
        raise ApiError(403, "forbidden", "only a supervisor key may reverse sales")
    body = await _json_body(request)
    missing = [f for f in ("ref", "reason") if body.get(f) in (None, "")]
    if missing:
        raise ApiError(400, "missing_field", f"missing: {', '.join(missing)}")
    ref, reason = str(body["ref"]), str(body["reason"])
    station = request.app.state.station
    try:
        stored_ref = apikeys.ledger_ref(key, ref)
    except StationError as error:
        raise ApiError(400, "invalid", str(error)) from None
    found = await run_in_threadpool(lookup.sale_by_ref, station, stored_ref)
    if found is None:
        raise ApiError(404, "not_found", f"no sale with ref {ref!r} for this operator")
    sale = found[3]
    if sale["reversed_by"]:
        raise ApiError(
            409, "already_reversed", f"ref {ref!r} was reversed by receipt {sale['reversed_by']}"
        )
    try:
        done = await run_in_threadpool(
            vend.reverse,
            station,
            sale["receipt"],
            reason,
            apikeys.supervisor_of(key.name),
            apikeys.cashier_of(key),
        )
    except StationError as error:
        if "already reversed" in str(error):  # a concurrent reversal won
            raise ApiError(409, "already_reversed", str(error)) from None
        raise ApiError(400, "invalid", str(error)) from None
    return JSONResponse(
        {
            "receipt": done["receipt"],
            "reverses": done["reverses"],
            "ref": ref,
            "amount": done["amount"],
            "reason": done["reason"],
            "created_at": done["created_at"],
        },
        201,
    )


@api
async def get_vend(request, key):
    ref = request.path_params["ref"]
    station = request.app.state.station
    try:
        stored_ref = apikeys.ledger_ref(key, ref)
    except StationError as error:
        raise ApiError(400, "invalid", str(error)) from None
    found = await run_in_threadpool(lookup.sale_by_ref, station, stored_ref)
    if found is None:
        raise ApiError(404, "not_found", f"no sale with ref {ref!r} for this key")
    return JSONResponse(_public_receipt(found[3], ref, True))


@api
async def get_meter(request, key):
    station = request.app.state.station
    try:
        meter = await run_in_threadpool(mgmt.meter_summary, station, request.path_params["number"])
    except StationError as error:
        raise ApiError(404, "not_found", str(error)) from None
    limit = station.config["default_cashier_limit"]
    return JSONResponse(
        {
            "number": meter["number"],
            "customer": meter["customer"],
            "unit": meter["unit"],
            "tariff": meter["tariff"],
            "min_amount": fmt(1),
            "max_amount": fmt(limit),
            "arrears": meter["arrears_total"],
        }
    )


@api
async def openapi(request, key):
    return JSONResponse(OPENAPI)


_ERROR = {"$ref": "#/components/schemas/Error"}


def _responses(ok, *codes):
    out = {str(code): {"description": text} for code, text in ok}
    for code in codes:
        out[str(code)] = {
            "description": "error",
            "content": {"application/json": {"schema": _ERROR}},
        }
    return out


OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "prepay station API for payment channels", "version": "1"},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
            },
            "VendRequest": {
                "type": "object",
                "required": ["meter", "amount", "ref", "channel"],
                "properties": {
                    "meter": {"type": "string", "description": "11-digit meter number"},
                    "amount": {"type": "string", "description": 'decimal, e.g. "20.00"'},
                    "ref": {"type": "string", "description": "your payment reference (unique)"},
                    "channel": {"type": "string", "enum": list(vend.CHANNELS)},
                },
            },
            "Receipt": {
                "type": "object",
                "properties": {
                    **{field: {"type": "string"} for field in RECEIPT_FIELDS},
                    "ref": {"type": "string"},
                    "replayed": {"type": "boolean"},
                },
            },
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/vends": {
            "post": {
                "summary": "Sell credit; idempotent by ref",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/VendRequest"}
                        }
                    },
                },
                "responses": _responses(
                    ((201, "sold"), (200, "the same ref again: the stored receipt")),
                    400,
                    401,
                    403,
                    404,
                    409,
                    422,
                ),
            }
        },
        "/api/v1/reversals": {
            "post": {
                "summary": "Reverse one of this operator's sales by its ref (supervisor keys)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["ref", "reason"],
                                "properties": {
                                    "ref": {"type": "string"},
                                    "reason": {"type": "string", "maxLength": 200},
                                },
                            }
                        }
                    },
                },
                "responses": _responses(((201, "the reversal receipt"),), 400, 401, 403, 404, 409),
            }
        },
        "/api/v1/vends/{ref}": {
            "get": {
                "summary": "A sale of this key by its ref",
                "parameters": [{"name": "ref", "in": "path", "required": True}],
                "responses": _responses(((200, "the receipt"),), 401, 404),
            }
        },
        "/api/v1/meters/{number}": {
            "get": {
                "summary": "Confirm a meter (customer name, amounts) before paying",
                "parameters": [{"name": "number", "in": "path", "required": True}],
                "responses": _responses(((200, "the meter"),), 401, 404),
            }
        },
    },
}
