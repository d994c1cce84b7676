"""Who is asking: session cookies, CSRF tokens, login throttling, roles.

Every page handler is wrapped by `page` (GET) or `action` (POST, CSRF-checked) with the roles
allowed; an anonymous request is sent to the login page, a wrong role gets 403. The session
cookie is HttpOnly and SameSite=Strict, and Secure when the request came over TLS (directly or
through a proxy uvicorn trusts). Sessions live in the database: logging out ends them there.
"""

import functools
import hmac
import secrets
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse

from host_tools.vending import users

SESSION_COOKIE = "prepay_session"
LOGIN_CSRF_COOKIE = "prepay_login"  # double-submit token for the login form (no session yet)
ALL_ROLES = users.ROLES
SUPERVISORS = ("supervisor", "admin")


class Forbidden(Exception):
    """The user is logged in but may not do this (the message says why)."""


def _cookie(response, request, name, value, max_age):
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


async def current_user(request):
    """(user row, csrf) for the request's session cookie, or None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    station = request.app.state.station
    return await run_in_threadpool(users.session_user, station, token)


def _to_login(request):
    target = request.url.path + (("?" + request.url.query) if request.url.query else "")
    return RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)


def _csrf_ok(expected, given):
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def page(roles=ALL_ROLES, method="GET"):
    """Wrap a handler `(request, user)`: anonymous -> login page; other roles -> 403; POST
    forms must carry the session's CSRF token (field `csrf`)."""

    def wrap(handler):
        @functools.wraps(handler)
        async def run(request):
            found = await current_user(request)
            if found is None:
                if method == "POST":
                    raise Forbidden("your session has ended: log in again")
                return _to_login(request)
            user, csrf = found
            request.state.user, request.state.csrf = user, csrf
            if method == "POST":
                form = await request.form()
                if not _csrf_ok(csrf, form.get("csrf")):
                    raise Forbidden("the form's security token is missing or wrong: reload it")
                request.state.form = form
            if user.role not in roles:
                raise Forbidden(f"a {user.role} may not do this: ask a supervisor")
            return await handler(request, user)

        run.roles = roles
        return run

    return wrap


def action(roles=ALL_ROLES):
    return page(roles, method="POST")


# ---- login and logout --------------------------------------------------------------------------


def _safe_next(target):
    """Only a path on this station (no //host, no scheme): no open redirect after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def login_form(request, error=None, status=200):
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = request.app.state.templates.TemplateResponse(
        request,
        "login.html",
        {
            "csrf": token,
            "error": error,
            "next": _safe_next(request.query_params.get("next")),
            "user": None,
        },
        status_code=status,
    )
    _cookie(response, request, LOGIN_CSRF_COOKIE, token, 3600)
    return response


async def login(request):
    form = await request.form()
    if not _csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE), form.get("csrf")):
        return await login_form(request, "the form's security token is wrong: try again", 403)
    station = request.app.state.station
    address = request.client.host if request.client else "-"
    try:
        user = await run_in_threadpool(
            users.authenticate, station, form.get("name", ""), form.get("password", ""), address
        )
    except users.LoginRefused as error:
        return await login_form(request, str(error), 403)
    token, _csrf = await run_in_threadpool(users.open_session, station, user.name)
    response = RedirectResponse(_safe_next(form.get("next")), status_code=303)
    _cookie(response, request, SESSION_COOKIE, token, int(users.SESSION_LIFETIME.total_seconds()))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@page(method="POST")
async def logout(request, user):
    station = request.app.state.station
    await run_in_threadpool(users.close_session, station, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
