"""The payment channels' API against a real `prepay serve` on SQLite and on PostgreSQL:
idempotent by ref under 16 concurrent clients, JSON errors, key scope, the OpenAPI document."""

import random
import threading

import httpx
import pytest
from sqlalchemy import func, select

from host_tools.vending import db, reports
from tests.vending.vending_setup import CURRENCY_METER, FLAT_METER, KWH_METER

METERS = (KWH_METER, FLAT_METER, CURRENCY_METER)


def _client(server, channel="mobile"):
    headers = {"authorization": f"Bearer {server.keys[channel]}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60)


def _vend(client, meter, amount, ref, channel="mobile"):
    body = {"meter": meter, "amount": amount, "ref": ref, "channel": channel}
    return client.post("/api/v1/vends", json=body)


def test_a_vend_its_replay_a_conflict_and_the_reads(live_server):
    with _client(live_server) as api:
        sold = _vend(api, KWH_METER, "20.00", "OP-1")
        assert sold.status_code == 201, sold.text
        receipt = sold.json()
        assert receipt["ref"] == "OP-1" and receipt["replayed"] is False
        assert len(receipt["token"]) == 20 and receipt["amount"] == "20.00"
        again = _vend(api, KWH_METER, "20.00", "OP-1")
        assert again.status_code == 200 and again.json()["token"] == receipt["token"]
        assert again.json()["replayed"] is True
        clash = _vend(api, KWH_METER, "25.00", "OP-1")
        assert clash.status_code == 409
        assert clash.json() == {
            "error": "ref_conflict",
            "message": f"ref 'OP-1' was already used for 20.00 on meter {KWH_METER} (mobile)",
        }
        found = api.get("/api/v1/vends/OP-1").json()
        assert found["token"] == receipt["token"] and found["receipt"] == receipt["receipt"]
        meter = api.get(f"/api/v1/meters/{KWH_METER}").json()
        assert meter["customer"] == "A. Block" and meter["min_amount"] == "0.01"
        assert api.get("/api/v1/vends/NOPE").json()["error"] == "not_found"
        assert api.get("/api/v1/meters/12345678901").status_code == 404
    sales = live_server.station.read(
        lambda conn: conn.execute(
            select(db.sales.c.ref, db.txns.c.cashier).join(
                db.txns, db.txns.c.id == db.sales.c.txn_id
            )
        ).all()  # fmt: skip
    )
    assert [tuple(row) for row in sales] == [("op-mobile:OP-1", "api:op-mobile")]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"meter": KWH_METER, "amount": "5"}, 400, "missing_field"),
        ({"meter": KWH_METER, "amount": "five", "ref": "A", "channel": "mobile"}, 400, "invalid"),
        ({"meter": KWH_METER, "amount": "-5", "ref": "A", "channel": "mobile"}, 400, "invalid"),
        ({"meter": "12345678903", "amount": "5", "ref": "A", "channel": "mobile"}, 404, None),
        ({"meter": "12345678904", "amount": "5", "ref": "A", "channel": "mobile"}, 422, None),
        ({"meter": KWH_METER, "amount": "5", "ref": "A", "channel": "card"}, 403, None),
    ],
)
def test_bad_requests_get_a_json_error_and_sell_nothing(live_sqlite_server, body, status, code):
    with _client(live_sqlite_server) as api:
        response = api.post("/api/v1/vends", json=body)
        assert response.status_code == status, response.text
        error = response.json()
        assert set(error) == {"error", "message"} and error["message"]
        if code:
            assert error["error"] == code
        assert api.post("/api/v1/vends", content=b"{not json").json()["error"] == "bad_json"
    assert _count(live_sqlite_server.station, db.sales) == 0


def test_the_openapi_document_describes_the_vend(live_sqlite_server):
    with _client(live_sqlite_server) as api:
        doc = api.get("/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    post = doc["paths"]["/api/v1/vends"]["post"]
    assert {"201", "200", "409", "401"} <= set(post["responses"])
    assert doc["components"]["schemas"]["VendRequest"]["required"] == [
        "meter", "amount", "ref", "channel"]  # fmt: skip


def _count(station, table):
    return station.read(
        lambda conn: conn.execute(select(func.count()).select_from(table)).scalar_one()
    )


def test_16_concurrent_clients_repeating_refs_get_one_token_per_ref(live_server):
    """16 clients send the same 48 refs in their own orders (every ref 16 times, some with a
    wrong amount too): each ref gets exactly one token, every TID of a meter is used once, the
    books balance."""
    refs = {f"C-{i}": (METERS[i % 3], f"{10 + i % 7}.00") for i in range(48)}
    seen, errors, lock = {}, [], threading.Lock()

    def client(seed):
        order = list(refs)
        random.Random(seed).shuffle(order)
        with _client(live_server) as api:
            for ref in order:
                meter, amount = refs[ref]
                response = _vend(api, meter, amount, ref)
                if response.status_code not in (200, 201):
                    with lock:
                        errors.append((ref, response.status_code, response.text))
                    continue
                with lock:
                    seen.setdefault(ref, set()).add(response.json()["token"])
                if seed % 4 == 0:  # a wrong amount with a used ref: 409, never a token
                    clash = _vend(api, meter, "99.00", ref)
                    if clash.status_code != 409:
                        with lock:
                            errors.append((ref, clash.status_code, clash.text))

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:5]
    assert set(seen) == set(refs)
    assert all(len(tokens) == 1 for tokens in seen.values()), seen
    station = live_server.station
    assert _count(station, db.sales) == len(refs)
    tokens = station.read(
        lambda conn: conn.execute(select(db.tokens.c.meter, db.tokens.c.tid)).all()
    )
    assert len(tokens) == len(set(tokens)) == len(refs)  # no duplicate (meter, TID)
    day = reports.day(station)
    assert day["books_balance"], day["problems"]
    assert day["counts"]["sale"] == len(refs)
