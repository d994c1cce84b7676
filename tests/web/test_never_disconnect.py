"""The supervisor's never-disconnect page in process (issue 14): cashiers refused; supervisors
and admins set the flag and get the signed config; removing it needs the meter number typed
again and a reason (the CLI's rule), a refusal changes nothing, and the change is in the audit
chain with the logged-in user. The config then rides on the meter's next sale receipt."""

import json

from sqlalchemy import func, select

from host_tools.vending import audit, db, ledger, meter_config, never_disconnect, registry, vend
from tests.vending.vending_setup import CURRENCY_METER, KWH_METER
from tests.web.conftest import csrf_of, login

PAGE = "/never-disconnect"


def _supervisor(client, name="boss"):
    login(client, name)
    return csrf_of(client.get(PAGE).text)


def _txns(station):
    return station.read(
        lambda conn: conn.execute(select(func.count()).select_from(db.txns)).scalar_one()
    )


def _critical(station, meter):
    return bool(station.read(lambda conn: registry.get_meter(conn, meter)).critical)


def _last_config_txn(station, meter):
    def work(conn):
        t = db.txns
        txn_id = conn.execute(
            select(t.c.id)
            .where(t.c.meter == meter, t.c.kind == "config")
            .order_by(t.c.seq.desc())
            .limit(1)
        ).scalar_one()
        row = ledger.load(conn, txn_id=txn_id)
        body = row["body"] if isinstance(row["body"], dict) else json.loads(row["body"])
        return row["cashier"], body

    return station.read(work)


def test_a_cashier_is_refused_the_page_and_its_forms(client):
    login(client, "clerk")
    assert client.get(PAGE).status_code == 403
    assert "Never-disconnect" not in client.get("/meters").text  # not in the cashier's nav
    csrf = csrf_of(client.get("/shift").text)
    before = _txns(client.station)
    refused = client.post(PAGE, data={"csrf": csrf, "meter": KWH_METER})
    assert refused.status_code == 403 and "may not" in refused.text
    removal = {"csrf": csrf, "confirm": CURRENCY_METER, "reason": "clerk tries"}
    assert client.post(f"{PAGE}/{CURRENCY_METER}/remove", data=removal).status_code == 403
    assert _txns(client.station) == before
    assert not _critical(client.station, KWH_METER) and _critical(client.station, CURRENCY_METER)


def test_a_form_without_its_csrf_token_is_refused(client):
    _supervisor(client)
    refused = client.post(PAGE, data={"meter": KWH_METER})
    assert refused.status_code == 403 and "security token" in refused.text
    assert not _critical(client.station, KWH_METER)


def test_a_supervisor_sets_the_flag_and_sees_the_signed_config(client):
    csrf = _supervisor(client)
    page = client.get(PAGE)
    assert 'href="/never-disconnect"' in page.text  # in the supervisor's navigation
    listed = page.text.split('id="flagged"', 1)[1].split("</table>", 1)[0]
    assert CURRENCY_METER in listed and KWH_METER not in listed  # registered --critical
    assert "none signed" in listed

    done = client.post(PAGE, data={"csrf": csrf, "meter": KWH_METER}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith(f"{PAGE}?signed=")
    shown = client.get(done.headers["location"])
    assert shown.status_code == 200
    signed = shown.text.split('id="signed"', 1)[1].split("</section>", 1)[0]
    assert "never_disconnect: (unset) -&gt; true" in signed
    assert "prepay device config" in signed and f"prepay config applied {KWH_METER} 1" in signed
    blob = signed.split('id="blob">', 1)[1].split("<", 1)[0]
    assert blob.startswith("pc1.")
    assert _critical(client.station, KWH_METER)
    cashier, body = _last_config_txn(client.station, KWH_METER)
    assert cashier == "boss" and body["never_disconnect_set"] is True
    assert body["config"]["never_disconnect"] is True and body["blob"] == blob
    listed = client.get(PAGE).text.split('id="flagged"', 1)[1].split("</table>", 1)[0]
    assert KWH_METER in listed and "config 1 waiting to be loaded" in listed

    # Again: already flagged and signed, refused, nothing new signed.
    before = _txns(client.station)
    again = client.post(PAGE, data={"csrf": csrf, "meter": KWH_METER})
    assert again.status_code == 400 and "already never-disconnect" in again.text
    assert _txns(client.station) == before

    # The next sale's receipt carries the config to the meter, as on the CLI.
    sale = vend.sell(client.station, KWH_METER, "10", "ND-1", "cash", "clerk")
    assert sale["config_counter"] == 1 and sale["config_blob"] == blob
    receipt = client.get(f"/receipts/{sale['receipt']}").text
    assert "New meter config 1" in receipt and blob in receipt


def test_an_admin_may_set_it_too_and_a_bad_meter_is_refused(client):
    csrf = _supervisor(client, "root")
    bad = client.post(PAGE, data={"csrf": csrf, "meter": "12345"})
    assert bad.status_code == 400 and 'role="alert"' in bad.text
    assert client.post(PAGE, data={"csrf": csrf, "meter": CURRENCY_METER}).status_code == 200
    cashier, body = _last_config_txn(client.station, CURRENCY_METER)
    assert cashier == "root" and body["config"]["never_disconnect"] is True
    assert body["config"]["tariff"] == {"type": "flat", "price": 200}  # the registry's part


def test_removal_needs_the_number_again_and_a_reason_and_is_audited(client):
    station = client.station
    never_disconnect.set_flag(station, CURRENCY_METER, True, "chief")  # signed config 1
    csrf = _supervisor(client)
    path = f"{PAGE}/{CURRENCY_METER}/remove"
    before = _txns(station)
    for fields, message in (
        ({"reason": "hospital closed"}, "the confirmation must repeat the meter number"),
        ({"confirm": KWH_METER, "reason": "hospital closed"}, "must repeat the meter number"),
        ({"confirm": CURRENCY_METER}, "a reason is required to remove never-disconnect"),
        ({"confirm": CURRENCY_METER, "reason": "   "}, "a reason is required"),
    ):
        refused = client.post(path, data={"csrf": csrf, **fields})
        assert refused.status_code == 400, fields
        alert = refused.text.split('role="alert">', 1)[1].split("</p>", 1)[0]
        assert message in alert and "--" not in alert  # the page's words, not the CLI's
    assert _txns(station) == before  # nothing signed, nothing recorded
    assert _critical(station, CURRENCY_METER)
    assert station.read(lambda conn: meter_config.signed_counter(conn, CURRENCY_METER)) == 1
    assert station.read(lambda conn: meter_config.last_signed(conn, CURRENCY_METER))[
        "never_disconnect"
    ]

    done = client.post(
        path,
        data={"csrf": csrf, "confirm": f" {CURRENCY_METER} ", "reason": "hospital closed"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    signed = client.get(done.headers["location"]).text
    assert "never_disconnect: true -&gt; (unset)" in signed and "hospital closed" in signed
    assert not _critical(station, CURRENCY_METER)
    cashier, body = _last_config_txn(station, CURRENCY_METER)
    assert cashier == "boss"  # the logged-in user, in the hashed chain
    assert body["never_disconnect_removed"] == {
        "confirmed": CURRENCY_METER,
        "reason": "hospital closed",
    }
    assert body["counter"] == 2 and "never_disconnect" not in body["config"]
    assert body["config"]["tariff"] == {"type": "flat", "price": 200}  # the rest kept
    assert audit.verify(station)["ok"] is True
    listed = client.get(PAGE).text.split('id="flagged"', 1)[1].split("</table>", 1)[0]
    assert CURRENCY_METER not in listed
    again = client.post(path, data={"csrf": csrf, "confirm": CURRENCY_METER, "reason": "x"})
    assert again.status_code == 400 and "is not never-disconnect" in again.text


def test_a_signed_receipt_that_is_no_config_is_not_shown_as_one(client):
    sale = vend.sell(client.station, KWH_METER, "10", "ND-2", "cash", "clerk")
    _supervisor(client)
    page = client.get(PAGE, params={"signed": sale["receipt"]})
    assert page.status_code == 404 and "not a signed config" in page.text
