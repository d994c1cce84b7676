"""Security of the web app and API, in process (Starlette's TestClient on a SQLite station)."""

import re

import pytest
from starlette.routing import Mount, Route

from host_tools.vending import registry, vend
from host_tools.web.app import PUBLIC, create_app
from tests.vending.vending_setup import KWH_METER
from tests.web.conftest import PASSWORD, TestClient, csrf_of, login
from token_spec import make_meter_number


def _sample_path(path):
    return re.sub(r"\{[^}]+\}", "00000000018", path)


def _routes():
    """Every (method, path) the app serves, found by walking its routes (so a new route is
    checked without anyone remembering to add it here)."""
    app = create_app(station=None)
    found = []
    for route in app.routes:
        if isinstance(route, Mount):
            found.append(("GET", route.path + "/station.css"))
        elif isinstance(route, Route):
            for method in sorted(route.methods - {"HEAD"}):
                found.append((method, _sample_path(route.path)))
    return found


ROUTES = _routes()
PROTECTED = [(method, path) for method, path in ROUTES if not path.startswith(PUBLIC)]


def test_the_route_walk_finds_the_pages_and_the_api():
    paths = {path for _, path in ROUTES}
    assert {"/meters", "/day/close", "/api/v1/vends", "/api/v1/openapi.json"} <= paths
    assert {"/month.csv", "/arrears", "/admin/meters/import", "/admin/users"} <= paths
    assert len(ROUTES) >= 18


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_every_route_refuses_an_anonymous_request(client, method, path):
    response = client.request(method, path, follow_redirects=False)
    if path.startswith("/api/"):
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"
    elif method == "GET":
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
    else:
        assert response.status_code == 403


def test_only_the_login_page_and_static_files_are_public(client):
    assert len(ROUTES) - len(PROTECTED) == 3  # GET and POST /login, the static mount
    assert client.get("/login").status_code == 200
    assert client.get("/static/station.css").status_code == 200
    assert PUBLIC == ("/login", "/static")


def test_html_in_a_customer_name_is_shown_escaped(client):
    number = make_meter_number("0000000099")
    stamp = client.station.stamp()
    name = "<script>alert(1)</script><b>Eve</b>"
    client.station.write(
        lambda conn: registry.add_meter(
            conn, number, "kwh", 1000, 1000, "flat", name, "", False, stamp
        )
    )
    login(client, "clerk")
    for page in (client.get(f"/meters/{number}"), client.get("/meters", params={"q": "Eve"})):
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<b>Eve" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;Eve&lt;/b&gt;" in page.text


@pytest.mark.parametrize(
    "query", ["' OR 1=1 --", "%", "_", "\\", "'; DROP TABLE meters; --", '" OR ""="', "%_%"]
)
def test_search_with_sql_metacharacters_finds_nothing_and_breaks_nothing(client, query):
    login(client, "clerk")
    page = client.get("/meters", params={"q": query})
    assert page.status_code == 200
    assert 'id="none"' in page.text and 'id="results"' not in page.text
    meters = client.station.read(registry.list_meters)
    assert len(meters) == 4  # the table is intact
    assert client.get("/meters", params={"q": "Block"}).text.count("/meters/") >= 1


def test_search_finds_by_number_name_and_phone(client):
    login(client, "clerk")
    assert KWH_METER in client.get("/meters", params={"q": "a. block"}).text
    assert KWH_METER in client.get("/meters", params={"q": KWH_METER[3:8]}).text


def test_a_session_cookie_from_before_logout_is_refused(client):
    assert login(client, "clerk").status_code == 303
    old_cookie = client.cookies.get("prepay_session")
    page = client.get("/meters")
    assert page.status_code == 200
    out = client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.set("prepay_session", old_cookie)
    again = client.get("/meters", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")


def test_the_session_cookie_is_httponly_and_samesite_strict(client):
    response = login(client, "clerk")
    cookie = response.headers["set-cookie"].lower()
    assert "prepay_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert "secure" not in cookie  # plain HTTP here; over TLS the cookie is Secure


def test_the_session_cookie_is_secure_behind_tls(sqlite_station):
    station, _ = sqlite_station
    with TestClient(create_app(station), base_url="https://station.test") as tls:
        assert "secure" in login(tls, "clerk").headers["set-cookie"].lower()


def test_repeated_failed_logins_lock_the_account_and_say_so(client):
    for _ in range(5):
        refused = login(client, "clerk", "wrong password")
        assert refused.status_code == 403 and "wrong user name or password" in refused.text
    locked = login(client, "clerk", PASSWORD)  # the right password, too late
    assert locked.status_code == 403 and "too many failed logins" in locked.text
    assert "prepay_session" not in locked.headers.get("set-cookie", "")


def test_a_locked_address_is_refused_for_other_accounts_too(client):
    for name in ("nobody1", "nobody2", "nobody3", "nobody4", "nobody5"):
        login(client, name, "guess")
    assert "too many failed logins" in login(client, "boss").text


def test_a_login_form_without_its_token_is_refused(client):
    client.get("/login")
    response = client.post("/login", data={"name": "clerk", "password": PASSWORD})
    assert response.status_code == 403 and "prepay_session" not in client.cookies


def test_after_login_only_a_local_path_is_followed(client):
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "name": "clerk",
            "password": PASSWORD,
            "csrf": csrf_of(page.text),
            "next": "//evil.example/",
        },  # fmt: skip
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_a_cashier_cannot_reach_supervisor_pages(client):
    login(client, "clerk")
    sale = vend.sell(client.station, KWH_METER, "10", "SEC-1", "cash", "boss")
    for path in ("/day", f"/receipts/{sale['receipt']}/reverse"):
        assert client.get(path).status_code == 403


def _restricted(role):
    """(method, path) of every page route whose handler refuses `role` (from the routes)."""
    app = create_app(station=None)
    return [
        (method, _sample_path(route.path))
        for route in app.routes
        if isinstance(route, Route) and role not in getattr(route.endpoint, "roles", (role,))
        for method in sorted(route.methods - {"HEAD"})
    ]


@pytest.mark.parametrize("name", ["clerk", "boss"])
def test_every_route_above_a_role_refuses_it(client, name):
    """Walks the routes as above: a new supervisor or admin page is checked without a list."""
    login(client, name)
    role = {"clerk": "cashier", "boss": "supervisor"}[name]
    refused = _restricted(role)
    assert ("GET", "/admin/users") in refused and ("GET", "/meters") not in refused
    if role == "cashier":
        assert ("GET", "/month") in refused
    csrf = csrf_of(client.get("/shift").text)
    for method, path in refused:
        response = client.request(method, path, data={"csrf": csrf} if method == "POST" else None)
        assert response.status_code == 403, (method, path)


def test_pages_carry_a_strict_content_security_policy(client):
    page = client.get("/login")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text and "style=" not in page.text


# ---- API key scope ---------------------------------------------------------------------------


def _vend(client, key, **body):
    headers = {"authorization": f"Bearer {key}"}
    return client.post("/api/v1/vends", json=body, headers=headers)


def test_a_key_of_one_channel_cannot_sell_as_another(client):
    refused = _vend(client, client.keys["mobile"], meter=KWH_METER, amount="5", ref="X1",
                    channel="card")  # fmt: skip
    assert refused.status_code == 403 and refused.json()["error"] == "wrong_channel"
    assert client.station.read(lambda conn: conn.exec_driver_sql(
        "SELECT count(*) FROM sales").scalar()) == 0  # fmt: skip


def test_a_key_sees_only_its_own_references(client):
    sold = _vend(client, client.keys["mobile"], meter=KWH_METER, amount="5", ref="R1",
                 channel="mobile")  # fmt: skip
    assert sold.status_code == 201
    other = {"authorization": f"Bearer {client.keys['card']}"}
    assert client.get("/api/v1/vends/R1", headers=other).status_code == 404
    mine = {"authorization": f"Bearer {client.keys['mobile']}"}
    assert client.get("/api/v1/vends/R1", headers=mine).json()["token"] == sold.json()["token"]


def test_a_revoked_or_forged_key_is_refused(client):
    from host_tools.vending import apikeys

    key = client.keys["mobile"]
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert _vend(client, forged, meter=KWH_METER, amount="5", ref="F", channel="mobile"
                 ).status_code == 401  # fmt: skip
    key_id = key.split("_")[1]
    stamp = client.station.stamp()
    client.station.write(lambda conn: apikeys.revoke(conn, key_id, stamp))
    revoked = _vend(client, key, meter=KWH_METER, amount="5", ref="F", channel="mobile")
    assert revoked.status_code == 401 and revoked.json()["error"] == "unauthorized"


def test_a_session_cookie_does_not_open_the_api(client):
    login(client, "root")
    response = client.post("/api/v1/vends", json={"meter": KWH_METER, "amount": "5",
                           "ref": "S", "channel": "cash"})  # fmt: skip
    assert response.status_code == 401


def test_the_rate_limit_holds_per_key(client):
    from host_tools.web.api import RateLimiter

    now = [1000.0]
    client.app.state.rate_limiter = RateLimiter(3, clock=lambda: now[0])
    mobile = {"authorization": f"Bearer {client.keys['mobile']}"}
    card = {"authorization": f"Bearer {client.keys['card']}"}
    path = f"/api/v1/meters/{KWH_METER}"
    assert [client.get(path, headers=mobile).status_code for _ in range(3)] == [200] * 3
    limited = client.get(path, headers=mobile)
    assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
    assert limited.headers["retry-after"] == "20"
    assert client.get(path, headers=card).status_code == 200  # another key: its own bucket
    now[0] += 20  # a third of a minute refills one request
    assert client.get(path, headers=mobile).status_code == 200
    assert client.get(path, headers=mobile).status_code == 429


def test_only_a_supervisor_key_reverses_and_only_its_operators_sales(client):
    def post(path, key, body):
        return client.post(path, json=body, headers={"authorization": f"Bearer {key}"})

    sale = {"meter": KWH_METER, "amount": "5", "ref": "REV-1", "channel": "mobile"}
    sold = post("/api/v1/vends", client.keys["mobile"], sale).json()
    card_sale = dict(sale, channel="card")
    post("/api/v1/vends", client.keys["card"], card_sale)
    reverse = {"ref": "REV-1", "reason": "customer cancelled"}
    seller = post("/api/v1/reversals", client.keys["mobile"], reverse)
    assert seller.status_code == 403 and seller.json()["error"] == "forbidden"
    assert post("/api/v1/reversals", client.keys["supervisor"], {"ref": "REV-1"}).json()[
        "error"] == "missing_field"  # fmt: skip
    done = post("/api/v1/reversals", client.keys["supervisor"], reverse)
    assert done.status_code == 201, done.text
    assert done.json()["reverses"] == sold["receipt"] and done.json()["amount"] == "5.00"
    again = post("/api/v1/reversals", client.keys["supervisor"], reverse)
    assert again.status_code == 409 and again.json()["error"] == "already_reversed"
    # the card operator's sale with the same ref is another operator's: not found, untouched
    receipt = client.get(
        "/api/v1/vends/REV-1", headers={"authorization": f"Bearer {client.keys['card']}"}
    ).json()
    assert receipt["reversed_by"] is None  # fmt: skip
    from host_tools.vending import reports

    assert reports.day(client.station)["books_balance"]
