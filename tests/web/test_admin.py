"""Admin pages in process: tariffs, meters and customers (CSV import: every bad row reported by
line, nothing half-imported), users (add, role, unlock), API keys (shown once, revoke)."""

import pytest

from host_tools.vending import registry, users
from tests.vending.vending_setup import FLAT_METER, KWH_METER
from tests.web.conftest import PASSWORD, csrf_of, login
from token_spec import make_meter_number

NEW_1 = make_meter_number("0000000101")
NEW_2 = make_meter_number("0000000102")


def _admin(client):
    login(client, "root")
    return csrf_of(client.get("/admin/meters").text)


def _meters(client):
    return {m["number"]: m for m in client.station.read(registry.list_meters)}


def _post(client, path, csrf, **fields):
    return client.post(path, data={"csrf": csrf, **fields})


def _import(client, csrf, text):
    files = {"file": ("customers.csv", text.encode(), "text/csv")}
    return client.post("/admin/meters/import", data={"csrf": csrf}, files=files)


def test_only_an_admin_reaches_the_admin_pages(client):
    for name in ("clerk", "boss"):
        login(client, name)
        for path in ("/admin", "/admin/meters", "/admin/tariffs", "/admin/users", "/admin/keys"):
            assert client.get(path).status_code == 403, (name, path)
    login(client, "root")
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/meters"


def test_a_customer_list_with_bad_rows_imports_nothing_and_names_every_line(client):
    csrf = _admin(client)
    before = _meters(client)
    text = (
        "meter,customer,phone,tariff,unit,scale,imp_per_kwh\n"
        f"{KWH_METER},A. Renamed,+255 700 000 001,,,,\n"  # fine: an update
        f"{NEW_1},New Customer,0700,flat,kwh,1000,1000\n"  # fine: a new meter
        "12345678901,Bad Check,,,,,\n"  # line 4: Luhn
        f"{NEW_2},No Tariff,,,,,\n"  # line 5: unregistered without its fields
        f"{FLAT_METER},Phone Bad,call me,,,,\n"  # line 6: phone
        f"{KWH_METER},Twice,,,,,\n"  # line 7: the same meter again
        f"{FLAT_METER},Wrong Tariff,,nosuch,,,\n"  # line 8
    )
    page = _import(client, csrf, text)
    assert page.status_code == 400 and "5 bad row(s), nothing imported" in page.text
    errors = page.text.split('id="import-errors"', 1)[1].split("</ul>", 1)[0]
    for line in (4, 5, 6, 7, 8):
        assert f"line {line}: " in errors, line
    assert "line 2:" not in errors and "line 3:" not in errors
    assert "already on line 2" in errors and "give tariff, unit, scale, imp_per_kwh" in errors
    assert _meters(client) == before  # nothing half-imported


def test_a_good_customer_list_is_imported_in_one_go(client):
    csrf = _admin(client)
    text = (
        "\ufeffMeter,Customer,Phone,Tariff,Unit,Scale,Imp_per_kwh\r\n"
        f"{KWH_METER},A. Renamed,+255 700 000 001,,,,\r\n"
        "\r\n"
        f"{NEW_1},New <b>Customer</b>,0700,flat,kwh,1000,1000\r\n"
        f"{FLAT_METER},B. Flat,,domestic,,,\r\n"
    )
    page = _import(client, csrf, text)
    assert page.status_code == 200, page.text
    assert "2 meter(s) added" not in page.text and "1 meter(s) added, 2 updated" in page.text
    assert "New &lt;b&gt;Customer&lt;/b&gt;" in page.text
    meters = _meters(client)
    assert meters[KWH_METER]["customer"] == "A. Renamed"
    assert meters[KWH_METER]["phone"] == "+255 700 000 001"
    assert meters[NEW_1]["tariff"] == "flat" and meters[FLAT_METER]["tariff"] == "domestic"


def test_a_file_that_is_no_customer_list_is_refused(client):
    csrf = _admin(client)
    assert "unknown column(s) price" in _import(client, csrf, "meter,customer,price\n").text
    assert "missing column(s) customer" in _import(client, csrf, "meter,phone\n1,2\n").text
    assert "no rows" in _import(client, csrf, "meter,customer\n").text
    bad = client.post("/admin/meters/import", data={"csrf": csrf},
                      files={"file": ("x.csv", b"\xff\xfe\x00", "text/csv")})  # fmt: skip
    assert bad.status_code == 400 and "not UTF-8" in bad.text


def test_tariffs_meters_and_customers_are_added_and_edited(client):
    csrf = _admin(client)
    refused = _post(client, "/admin/tariffs", csrf, name="t", kind="block", blocks="50:1.00")
    assert refused.status_code == 400 and "open-ended" in refused.text
    added = _post(
        client,
        "/admin/tariffs",
        csrf,
        name="night",
        kind="flat",
        price="0.9500",
        debt_percent="10",
        debt_cap="5",
    )
    assert added.status_code == 200 and "night" in added.text and "0.9500/kWh" in added.text
    new = {"number": NEW_2, "unit": "kwh", "scale": "100", "imp_per_kwh": "1600"}
    page = _post(client, "/admin/meters", csrf, **new, tariff="night", customer="Z. New")
    assert page.status_code == 200 and f'Meter <span class="mono">{NEW_2}' in page.text
    assert _meters(client)[NEW_2]["scale"] == 100
    again = _post(client, "/admin/meters", csrf, **new, tariff="night")
    assert again.status_code == 400 and "already registered" in again.text
    edited = _post(
        client, f"/admin/meters/{KWH_METER}", csrf, customer="A. B.", phone="0711", tariff="night"
    )
    assert edited.status_code == 200
    assert _meters(client)[KWH_METER]["customer"] == "A. B."
    assert _meters(client)[KWH_METER]["tariff"] == "night"
    bad = _post(
        client, f"/admin/meters/{KWH_METER}", csrf, customer="X", phone="<script>", tariff="flat"
    )
    assert bad.status_code == 400 and _meters(client)[KWH_METER]["tariff"] == "night"


def test_users_are_added_given_roles_and_unlocked(client):
    login(client, "root")
    csrf = csrf_of(client.get("/admin/users").text)
    differ = _post(
        client,
        "/admin/users",
        csrf,
        name="ann",
        role="cashier",
        password=PASSWORD,
        password2="other one",
    )
    assert differ.status_code == 400 and "differ" in differ.text
    done = _post(
        client,
        "/admin/users",
        csrf,
        name="ann",
        role="cashier",
        password=PASSWORD,
        password2=PASSWORD,
        limit="250",
    )
    assert done.status_code == 200 and "ann" in done.text and "250.00" in done.text
    station = client.station
    _post(client, "/admin/users/ann/role", csrf, role="supervisor")
    assert station.read(lambda conn: users.get_user(conn, "ann")).role == "supervisor"
    assert station.read(lambda conn: registry.get_cashier(conn, "ann")).supervisor
    alone = _post(client, "/admin/users/root/role", csrf, role="cashier")
    assert alone.status_code == 400 and "only admin" in alone.text
    for i in range(users.MAX_FAILURES):  # from several addresses: only the account locks
        with pytest.raises(users.LoginRefused):
            users.authenticate(station, "clerk", "wrong password!", f"10.0.0.{i}")
    assert login(client, "clerk").status_code == 403  # locked
    login(client, "root")
    page = client.get("/admin/users").text
    assert 'id="unlock-clerk"' in page and 'id="unlock-boss"' not in page
    csrf = csrf_of(page)
    _post(client, "/admin/users/clerk/unlock", csrf)
    assert login(client, "clerk").status_code == 303


def test_an_api_key_is_shown_once_and_revoked(client):
    login(client, "root")
    csrf = csrf_of(client.get("/admin/keys").text)
    page = _post(client, "/admin/keys", csrf, name="tigo", channel="mobile", role="seller")
    key = page.text.split('id="key-text">', 1)[1].split("<", 1)[0]
    assert key.startswith("pp_")
    assert key not in client.get("/admin/keys").text  # only on the response that made it
    auth = {"authorization": f"Bearer {key}"}
    assert client.get(f"/api/v1/meters/{KWH_METER}", headers=auth).status_code == 200
    key_id = key[3:11]
    client.post(f"/admin/keys/{key_id}/revoke", data={"csrf": csrf})
    assert client.get(f"/api/v1/meters/{KWH_METER}", headers=auth).status_code == 401
    again = client.post(f"/admin/keys/{key_id}/revoke", data={"csrf": csrf})
    assert again.status_code == 400 and "no live API key" in again.text


def test_the_import_is_one_transaction_on_sqlite_and_postgresql(web_station):
    from host_tools.vending import customers

    station, _ = web_station
    header = "meter,customer,phone,tariff,unit,scale,imp_per_kwh\n"
    rows = [
        f"{make_meter_number(f'{300 + i:010d}')},C{i},,flat,kwh,1000,1000\n" for i in range(50)
    ]
    before = station.read(registry.list_meters)
    with pytest.raises(customers.ImportRefused) as refused:  # the last row is bad
        customers.import_customers(station, header + "".join(rows) + "1,x,,,,,\n")
    (error,) = refused.value.errors
    assert error.startswith("line 52: meter number '1'")
    assert station.read(registry.list_meters) == before
    assert customers.import_customers(station, header + "".join(rows)) == {
        "added": 50,
        "updated": 0,
    }
    assert len(station.read(registry.list_meters)) == len(before) + 50
