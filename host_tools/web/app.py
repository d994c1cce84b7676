"""The Starlette application: one list of routes, the templates, the station's own assets.

Every route but the login page and the static files needs a logged-in user (pages) or an API
key (/api/v1); tests/web/test_security.py walks `app.routes` to hold that for new routes too.
"""

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from host_tools.web import admin_pages, api, auth, never_disconnect_pages, pages, report_pages
from host_tools.web.auth import Forbidden

HERE = Path(__file__).parent
PUBLIC = ("/login", "/static")  # the only routes an anonymous request may reach

# No inline script or style, no third-party origin: a counter without internet works the same.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


class SecurityHeaders:
    """Pure ASGI middleware adding SECURITY_HEADERS to every response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def routes():
    return [
        Route("/login", auth.login_form, methods=["GET"]),
        Route("/login", auth.login, methods=["POST"]),
        Route("/logout", auth.logout, methods=["POST"]),
        Route("/", pages.home, methods=["GET"]),
        Route("/meters", pages.find, methods=["GET"]),
        Route("/meters/{number}", pages.meter, methods=["GET"]),
        Route("/meters/{number}/sell", pages.sell, methods=["POST"]),
        Route("/receipts", pages.find_receipt, methods=["GET"]),
        Route("/receipts/{seq}", pages.reprint, methods=["GET"]),
        Route("/receipts/{seq}/reverse", pages.reverse_form, methods=["GET"]),
        Route("/receipts/{seq}/reverse", pages.reverse, methods=["POST"]),
        Route("/shift", pages.shift, methods=["GET"]),
        Route("/shift/cashup", pages.cash_up, methods=["POST"]),
        Route("/day", pages.day, methods=["GET"]),
        Route("/day.csv", pages.day, methods=["GET"]),
        Route("/day/close", pages.close_day, methods=["POST"]),
        Route("/month", report_pages.month, methods=["GET"]),
        Route("/month.csv", report_pages.month, methods=["GET"]),
        Route("/trends", report_pages.trends, methods=["GET"]),
        Route("/trends.csv", report_pages.trends, methods=["GET"]),
        Route("/arrears", report_pages.arrears, methods=["GET"]),
        Route("/arrears.csv", report_pages.arrears, methods=["GET"]),
        Route("/never-disconnect", never_disconnect_pages.index, methods=["GET"]),
        Route("/never-disconnect", never_disconnect_pages.set_flag, methods=["POST"]),
        Route(
            "/never-disconnect/{number}/remove",
            never_disconnect_pages.remove_flag,
            methods=["POST"],
        ),
        Route("/admin", admin_pages.index, methods=["GET"]),
        Route("/admin/tariffs", admin_pages.tariffs, methods=["GET"]),
        Route("/admin/tariffs", admin_pages.add_tariff, methods=["POST"]),
        Route("/admin/meters", admin_pages.meters, methods=["GET"]),
        Route("/admin/meters", admin_pages.add_meter, methods=["POST"]),
        Route("/admin/meters/import", admin_pages.import_customers, methods=["POST"]),
        Route("/admin/meters/{number}", admin_pages.meter, methods=["GET"]),
        Route("/admin/meters/{number}", admin_pages.edit_meter, methods=["POST"]),
        Route("/admin/users", admin_pages.users_list, methods=["GET"]),
        Route("/admin/users", admin_pages.add_user, methods=["POST"]),
        Route("/admin/users/{name}/role", admin_pages.set_role, methods=["POST"]),
        Route("/admin/users/{name}/unlock", admin_pages.unlock_user, methods=["POST"]),
        Route("/admin/keys", admin_pages.keys, methods=["GET"]),
        Route("/admin/keys", admin_pages.add_key, methods=["POST"]),
        Route("/admin/keys/{key_id}/revoke", admin_pages.revoke_key, methods=["POST"]),
        Route("/api/v1/vends", api.post_vend, methods=["POST"]),
        Route("/api/v1/vends/{ref}", api.get_vend, methods=["GET"]),
        Route("/api/v1/reversals", api.post_reversal, methods=["POST"]),
        Route("/api/v1/meters/{number}", api.get_meter, methods=["GET"]),
        Route("/api/v1/openapi.json", api.openapi, methods=["GET"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


def _is_api(request):
    return request.url.path.startswith("/api/")


async def _forbidden(request: Request, exc: Exception):
    if _is_api(request):
        return api.error_response(403, "forbidden", str(exc))
    return pages.render(request, "error.html", 403, message=str(exc))


async def _http_error(request: Request, exc: Exception):
    assert isinstance(exc, HTTPException)
    if _is_api(request):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return api.error_response(exc.status_code, code, str(exc.detail))
    message = {404: "no such page", 405: "not allowed here"}.get(exc.status_code, exc.detail)
    return pages.render(request, "error.html", exc.status_code, message=message)


async def _crash(request: Request, exc: Exception):
    # Never a traceback or a secret on the page: the server log has the details.
    if _is_api(request):
        return JSONResponse({"error": "internal", "message": "internal error"}, 500)
    return pages.render(request, "error.html", 500, message="internal error: see the server log")


def create_app(station):
    """The app for an opened Station (its vending key already decrypted by the caller)."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True)
    )
    app = Starlette(
        routes=routes(),
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={Forbidden: _forbidden, HTTPException: _http_error, 500: _crash},
    )
    app.state.station = station
    app.state.rate_limiter = api.rate_limiter(station)
    app.state.templates = Jinja2Templates(env=env)
    return app
