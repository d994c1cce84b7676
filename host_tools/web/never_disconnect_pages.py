"""The supervisor's never-disconnect page for critical customers (hospitals, water works).

Lists the meters flagged never-disconnect with the state of their signed config; sets the flag
on a meter; removes it only with the meter number typed again and a reason (the CLI's rule).
Each change signs the meter's config through host_tools/vending/never_disconnect.py (the
functions `prepay config sign` uses), booked to the logged-in user, and the page then shows
that signed config: what changed, the config, and how it reaches the meter.
"""

import json

from starlette.responses import RedirectResponse

from host_tools.vending import StationError, never_disconnect, settings, vend
from host_tools.web.auth import SUPERVISORS, action, page
from host_tools.web.pages import _call, _station, render

PATH = "/never-disconnect"


async def _page(request, status=200, error=None, form=None):
    station = _station(request)
    flagged = await _call(never_disconnect.flagged, station)
    signed = None
    shown = request.query_params.get("signed")
    if shown and error is None:
        try:
            signed = await _call(vend.find_receipt, station, shown)
        except StationError as exc:
            return render(request, "error.html", 404, message=str(exc))
        if signed["kind"] != "config" or "blob" not in signed:
            return render(request, "error.html", 404, message=f"{shown} is not a signed config")
        signed = settings.for_print(station.config, station.tz, signed)
        signed["config_text"] = json.dumps(signed["config"], indent=2, sort_keys=True)
    return render(
        request,
        "never_disconnect.html",
        status,
        flagged=flagged,
        signed=signed,
        form=form or {},
        error=error,
    )


@page(SUPERVISORS)
async def index(request, user):
    return await _page(request)


async def _change(request, user, number, on):
    form = {k: (request.state.form.get(k) or "").strip() for k in ("meter", "confirm", "reason")}
    form["meter"] = number or form["meter"]
    try:
        receipt = await _call(
            never_disconnect.set_flag,
            _station(request),
            form["meter"],
            on,
            user.name,
            form["confirm"],
            form["reason"],
            never_disconnect.WEB_WORDS,
        )
    except StationError as exc:
        form["removing"] = None if on else form["meter"]
        return await _page(request, 400, str(exc), form)
    return RedirectResponse(f"{PATH}?signed={receipt['receipt']}", status_code=303)


@action(SUPERVISORS)
async def set_flag(request, user):
    return await _change(request, user, None, True)


@action(SUPERVISORS)
async def remove_flag(request, user):
    return await _change(request, user, request.path_params["number"], False)
