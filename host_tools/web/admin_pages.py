"""Admin pages: tariffs, meters and their customers (with CSV import of a customer list), users,
API keys. Every change goes through the vending functions the CLI uses (registry, customers,
users, apikeys), in one transaction each; a refused form shows why and changes nothing.

Tariffs are added, never edited (as on the CLI: a sale's price must stay explainable by the
tariff row it names); a new price is a new tariff, and meters are moved to it on their page.
"""

from starlette.responses import RedirectResponse

from host_tools.vending import StationError, apikeys, customers, lookup, registry, users, vend
from host_tools.vending.money import parse_amount
from host_tools.web.auth import action, page
from host_tools.web.pages import _call, _station, render

ADMIN = ("admin",)
METERS_SHOWN = 200
IMPORT_MAX_BYTES = 5 * 1024 * 1024


def _form(request, *names):
    form = request.state.form
    return {name: (form.get(name) or "").strip() for name in names}


async def _write(request, work):
    station = _station(request)
    return await _call(station.write, work)


def _back(path):
    return RedirectResponse(path, status_code=303)


async def _apply(request, work, back, refused, form=None):
    """Write `work` and go `back`; a refusal redisplays the section (`refused`) with why."""
    try:
        await _write(request, work)
    except StationError as exc:
        return await refused(request, 400, str(exc), form)
    return _back(back)


@page(ADMIN)
async def index(request, user):
    return _back("/admin/meters")


# ---- tariffs -----------------------------------------------------------------------------------


async def _tariffs_page(request, status=200, error=None, form=None):
    station = _station(request)
    tariffs = await _call(station.read, registry.list_tariffs)
    return render(
        request,
        "admin_tariffs.html",
        status,
        tariffs=tariffs,
        error=error,
        form=form or {"kind": "flat", "debt_percent": "0"},
        kinds=registry.TARIFF_KINDS,
    )


@page(ADMIN)
async def tariffs(request, user):
    return await _tariffs_page(request)


@action(ADMIN)
async def add_tariff(request, user):
    form = _form(
        request, "name", "kind", "price", "blocks", "standing_charge", "debt_percent", "debt_cap"
    )
    stamp = _station(request).stamp()
    try:
        steps = registry.tariff_blocks(form["kind"], form["price"] or None, form["blocks"] or None)
        standing = (
            parse_amount(form["standing_charge"], "standing charge")
            if form["standing_charge"] not in ("", "0")
            else 0
        )
        cap = parse_amount(form["debt_cap"], "debt cap") if form["debt_cap"] else None
        percent = form["debt_percent"] or "0"
        if not percent.isdigit():
            raise StationError("debt recovery percentage must be 0..100")
        await _write(
            request,
            lambda conn: registry.add_tariff(
                conn, form["name"], form["kind"], steps, standing, int(percent), cap, stamp
            ),
        )
    except StationError as exc:
        return await _tariffs_page(request, 400, str(exc), form)
    return _back("/admin/tariffs")


# ---- meters and customers ----------------------------------------------------------------------


async def _meters_page(request, status=200, error=None, form=None, imported=None, errors=()):
    station = _station(request)
    query = request.query_params.get("q", "")
    if query:
        meters = await _call(lookup.search_meters, station, query)
    else:
        meters = await _call(station.read, registry.list_meters)
    tariffs = await _call(station.read, registry.list_tariffs)
    return render(
        request,
        "admin_meters.html",
        status,
        meters=meters[:METERS_SHOWN],
        more=max(0, len(meters) - METERS_SHOWN),
        query=query,
        tariffs=tariffs,
        units=registry.UNITS,
        form=form or {"unit": "kwh"},
        error=error,
        imported=imported,
        import_errors=list(errors),
        columns=",".join(customers.COLUMNS),
    )


@page(ADMIN)
async def meters(request, user):
    return await _meters_page(request)


@action(ADMIN)
async def add_meter(request, user):
    form = _form(request, "number", "unit", "scale", "imp_per_kwh", "tariff", "customer", "phone")
    stamp = _station(request).stamp()
    try:
        customer, phone = customers.check_customer(form["customer"], form["phone"])
        scale, imp = (customers.whole(form[k], k) for k in ("scale", "imp_per_kwh"))
        number = await _write(
            request,
            lambda conn: registry.add_meter(
                conn,
                form["number"],
                form["unit"],
                scale,
                imp,
                form["tariff"],
                customer,
                phone,
                False,
                stamp,
            ),
        )
    except StationError as exc:
        return await _meters_page(request, 400, str(exc), form)
    return _back(f"/admin/meters/{number}")


async def _meter_page(request, number, status=200, error=None):
    station = _station(request)
    try:
        meter = await _call(station.read, lambda conn: registry.get_meter(conn, number))
    except StationError as exc:
        return render(request, "error.html", 404, message=str(exc))
    tariffs = await _call(station.read, registry.list_tariffs)
    return render(
        request,
        "admin_meter.html",
        status,
        meter=registry.meter_dict(meter),
        tariffs=tariffs,
        error=error,
        saved=request.query_params.get("saved") == "1" and not error,
    )


@page(ADMIN)
async def meter(request, user):
    return await _meter_page(request, request.path_params["number"])


@action(ADMIN)
async def edit_meter(request, user):
    number = request.path_params["number"]
    form = _form(request, "customer", "phone", "tariff")

    def work(conn):
        row = registry.get_meter(conn, number)
        customers.set_customer(conn, row.number, form["customer"], form["phone"])
        if form["tariff"] and form["tariff"] != row.tariff:
            registry.set_tariff(conn, row.number, form["tariff"])

    try:
        await _write(request, work)
    except StationError as exc:
        return await _meter_page(request, number, 400, str(exc))
    return _back(f"/admin/meters/{number}?saved=1")


@action(ADMIN)
async def import_customers(request, user):
    upload = request.state.form.get("file")
    data = await upload.read(IMPORT_MAX_BYTES + 1) if hasattr(upload, "read") else b""
    try:
        if not data:
            raise customers.ImportRefused(["choose a CSV file of customers to import"])
        if len(data) > IMPORT_MAX_BYTES:
            raise customers.ImportRefused([f"the file is over {IMPORT_MAX_BYTES} bytes"])
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise customers.ImportRefused(["the file is not UTF-8 text"]) from None
        counts = await _call(customers.import_customers, _station(request), text)
    except customers.ImportRefused as exc:
        return await _meters_page(request, 400, str(exc), errors=exc.errors)
    return await _meters_page(request, imported=counts)


# ---- users -------------------------------------------------------------------------------------


async def _users_page(request, status=200, error=None, form=None):
    station = _station(request)
    listed = await _call(station.read, users.list_users)
    locked = await _call(station.read, users.locked_accounts)
    return render(
        request,
        "admin_users.html",
        status,
        users=listed,
        locked=locked,
        roles=users.ROLES,
        form=form or {"role": "cashier"},
        error=error,
    )


@page(ADMIN)
async def users_list(request, user):
    return await _users_page(request)


@action(ADMIN)
async def add_user(request, user):
    form = _form(request, "name", "role", "limit")
    password = request.state.form.get("password") or ""
    station = _station(request)
    stamp = station.stamp()
    try:
        if password != (request.state.form.get("password2") or ""):
            raise StationError("the two passwords differ")
        limit = (
            parse_amount(form["limit"], "vend limit")
            if form["limit"]
            else station.config["default_cashier_limit"]
        )
        await _write(
            request,
            lambda conn: users.add_user(conn, form["name"], form["role"], password, stamp, limit),
        )
    except StationError as exc:
        return await _users_page(request, 400, str(exc), form)
    return _back("/admin/users")


@action(ADMIN)
async def set_role(request, user):
    name, role = request.path_params["name"], _form(request, "role")["role"]
    work = lambda conn: users.set_role(conn, name, role)  # noqa: E731
    return await _apply(request, work, "/admin/users", _users_page)


@action(ADMIN)
async def unlock_user(request, user):
    name = request.path_params["name"]
    await _write(request, lambda conn: users.unlock(conn, name))
    return _back("/admin/users")


# ---- API keys ----------------------------------------------------------------------------------


async def _keys_page(request, status=200, error=None, form=None, new_key=None):
    station = _station(request)
    keys = await _call(station.read, apikeys.list_keys)
    return render(
        request,
        "admin_keys.html",
        status,
        keys=keys,
        channels=vend.CHANNELS,
        key_roles=apikeys.ROLES,
        form=form or {"role": "seller"},
        error=error,
        new_key=new_key,
    )


@page(ADMIN)
async def keys(request, user):
    return await _keys_page(request)


@action(ADMIN)
async def add_key(request, user):
    form = _form(request, "channel", "name", "role")
    stamp = _station(request).stamp()
    try:
        key, row = await _write(
            request,
            lambda conn: apikeys.add_key(conn, form["channel"], form["name"], stamp, form["role"]),
        )
    except StationError as exc:
        return await _keys_page(request, 400, str(exc), form)
    # Shown once, on this response only (never in a URL, a log or the database).
    return await _keys_page(request, new_key={"key": key, **row})


@action(ADMIN)
async def revoke_key(request, user):
    key_id = request.path_params["key_id"]
    stamp = _station(request).stamp()
    work = lambda conn: apikeys.revoke(conn, key_id, stamp)  # noqa: E731
    return await _apply(request, work, "/admin/keys", _keys_page)
