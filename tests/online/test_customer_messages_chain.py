"""The customer's messages from the real firmware, end to end: the simulated meter (`prepay
sim`) online through the real Mosquitto to the head-end running as `prepay headend` does
(`serve`: its message dispatcher in-process), out to a real SMTP server (aiosmtpd) and an HTTP
SMS gateway. A remote top-up is confirmed with its amount; a load runs the meter down until its
low-credit alarm and then its relay cut, and each message carries the credit the meter itself
reported at that moment (read from its status over the serial port, not written here); a second
top-up restores the supply. A critical customer's never-disconnect meter gets the warning, keeps
its supply and is never told of a cut. One customer reads English, the other Chinese.

Quiet hours are switched off (quiet_start = quiet_end): the dispatcher inside the head-end runs
on the wall clock, and this test must not depend on the hour it runs at
(tests/notify/test_notify.py tests quiet hours with a fixed clock).
"""

import pytest
from sqlalchemy import select

from host_tools.notify.dispatcher import list_deliveries
from host_tools.vending import db, mgmt, registry, vend
from host_tools.vending.money import fmt
from tests.notify.test_notify import configure
from tests.online.mqtt_helpers import online_chain, wait
from tests.vending.vending_setup import CURRENCY_METER, KWH_METER, make_station

STEP_S = 60  # virtual seconds per `sim.advance`: the meter loop's own step, so the status read
# after a step is the meter's credit at the step that raised the alarm or cut the supply
MAX_STEPS = 60
WAIT_S = 15  # generous: a message takes well under a second on an idle machine
KWH_PRICE_CENTS = 100  # the first block of tests/vending/vending_setup.py's "domestic" tariff


@pytest.fixture
def chain_station(tmp_path, fast_kdf, station_env, smtp_server, sms_gateway):
    station = make_station(tmp_path / "home")
    configure(station, smtp_server, sms_gateway, quiet_start="00:00", quiet_end="00:00")
    yield station
    station.close()


def _contact(station, meter, email, phone, language):
    station.write(
        lambda conn: registry.set_contact(conn, meter, email, phone, language, True, True)
    )


def _low_credit_alarm(station, meter, meter_client, threshold):
    """Sign and apply the meter's config with its low-credit alarm at `threshold` units."""
    receipt = mgmt.sign(station, meter, {"low_credit": threshold}, cashier="admin")
    meter_client.set_config(receipt["blob"])


def _sent(station, meter):
    """(kind, channel) of the messages sent for `meter` so far."""
    rows = station.read(lambda c: list_deliveries(c, "sent"))
    return [(r["kind"], r["channel"]) for r in rows if r["meter"] == meter]


def _arrived(station, meter, kind):
    """Wait until the `kind` message for `meter` went out by e-mail and by SMS."""
    wait(
        lambda: {ch for k, ch in _sent(station, meter) if k == kind} == {"email", "sms"},
        WAIT_S,
        f"the {kind} message sent by e-mail and SMS",
    )


def _mail(smtp, subject):
    found = [m for m in smtp.messages if m["subject"] == subject]
    assert len(found) == 1, (subject, [m["subject"] for m in smtp.messages])
    return found[0]


def _sms(gateway, to, *parts):
    found = [s for s in gateway.received if s["to"] == to and all(p in s["text"] for p in parts)]
    assert len(found) == 1, (parts, [s["text"] for s in gateway.received])
    return found[0]


def _remote_topup(station, meter, meter_client, amount, ref):
    """Sell `amount`: the head-end pushes the token; wait until the meter accepted it."""
    before = meter_client.request("status")["credit"]
    sold = vend.sell(station, meter, amount, ref, "cash", "clerk")
    d = db.deliveries

    def accepted():
        row = station.read(
            lambda c: c.execute(select(d.c.status).where(d.c.digits == sold["token"])).first()
        )
        return row is not None and row.status == "accepted"

    wait(accepted, WAIT_S, f"{ref} accepted by the meter")
    meter_client.request("sim.advance", seconds=1)  # one loop turn: the relay follows
    status = meter_client.request("status")
    assert status["credit"] > before
    return sold, status


def _run_down(meter_client, until):
    """Advance the loaded meter STEP_S at a time until `until(status)`; returns that status."""
    for _ in range(MAX_STEPS):
        meter_client.request("sim.advance", seconds=STEP_S)
        status = meter_client.request("status")
        if until(status):
            return status
    raise AssertionError(f"not reached in {MAX_STEPS} steps: {status}")


def test_low_credit_supply_cut_and_restore_reach_smtp_and_sms_with_the_meters_figures(
    tmp_path, chain_station, smtp_server, sms_gateway
):
    station, meter = chain_station, KWH_METER
    email, phone = "a.block@home.example", "+27820000001"
    _contact(station, meter, email, phone, "en")
    with online_chain(tmp_path, station, meter, notify=True) as (client, _, _):
        _low_credit_alarm(station, meter, client, 1000)  # 1.000 kWh (1 Wh register units)

        # 1. A remote top-up: confirmed on both channels with the amount and the units.
        sold, status = _remote_topup(station, meter, client, "3", "CHAIN-1")
        assert status["zone"] == "normal" and status["relay"] == "closed"
        _arrived(station, meter, "topup")
        mail = _mail(smtp_server, f"Top-up confirmed: meter {meter}")
        assert mail["to"] == [email]
        assert f"payment of {sold['amount']} for meter {meter}" in mail["body"]
        assert sold["units_text"] in mail["body"] and sold["receipt"] in mail["body"]
        _sms(sms_gateway, phone, f"Top-up {sold['amount']} for meter {meter}", sold["units_text"])

        # 2. A 4.7 kW load (78 1/3 Wh a minute): the alarm falls between round figures.
        client.request("sim.load", watts=4700)
        low = _run_down(client, lambda s: s["zone"] != "normal")
        assert low["zone"] == "low" and low["relay"] == "closed", low
        _arrived(station, meter, "credit_low")
        left = f"{low['credit_text']} kWh"  # the meter's own figure at the alarm
        worth = fmt(low["credit"] * KWH_PRICE_CENTS // 1000)  # at the first block's price
        mail = _mail(smtp_server, f"Credit low on meter {meter}")
        assert f"is low: {left} left, worth {worth}." in mail["body"], mail["body"]
        assert "days" not in mail["body"]  # under a day of readings: no estimate (notify.md)
        _sms(sms_gateway, phone, f"Meter {meter}: credit low, {left} left (worth {worth}).")

        # 3. On to the cut: the relay opens at zero credit.
        cut = _run_down(client, lambda s: s["relay"] == "open")
        assert cut["credit"] <= 0, cut
        _arrived(station, meter, "supply_cut")
        used_up = f"credit is used up ({cut['credit_text']} kWh)"
        assert used_up in _mail(smtp_server, f"Supply cut: meter {meter}")["body"]
        _sms(sms_gateway, phone, f"Meter {meter}: supply cut, credit used up "
             f"({cut['credit_text']} kWh).")  # fmt: skip

        # 4. The load switched off; a second remote top-up closes the relay again.
        client.request("sim.load", watts=0)  # the credit stays put while the message goes
        sold2, back = _remote_topup(station, meter, client, "2", "CHAIN-2")
        assert back["relay"] == "closed", back
        _arrived(station, meter, "supply_restored")
        now = f"{back['credit_text']} kWh"
        mail = _mail(smtp_server, f"Supply restored: meter {meter}")
        assert f"is back on. Credit now: {now}." in mail["body"], mail["body"]
        _sms(sms_gateway, phone, f"Meter {meter}: supply restored, credit {now}.")
        wait(lambda: len(_sent(station, meter)) == 10, WAIT_S, "the second top-up's messages")
        _sms(sms_gateway, phone, f"Top-up {sold2['amount']} for meter {meter}")

    # Each message once per channel, nothing parked or waiting.
    kinds = ["topup", "credit_low", "supply_cut", "topup", "supply_restored"]
    both = sorted((kind, channel) for kind in kinds for channel in ("email", "sms"))
    assert sorted(_sent(station, meter)) == both
    assert {r["state"] for r in station.read(list_deliveries)} == {"sent"}
    assert len(smtp_server.messages) == len(sms_gateway.received) == 5
    assert all(m["to"] == [email] for m in smtp_server.messages)
    assert all(s["to"] == phone for s in sms_gateway.received)


def test_a_never_disconnect_meter_gets_the_warning_but_no_cut(
    tmp_path, chain_station, smtp_server, sms_gateway
):
    """A critical customer (tests/vending/vending_setup.py's currency meter; its signed config
    carries never_disconnect from the registry), in Chinese."""
    station, meter = chain_station, CURRENCY_METER
    email, phone = "c.money@home.example", "+8613800000001"
    _contact(station, meter, email, phone, "zh")
    with online_chain(tmp_path, station, meter, notify=True) as (client, _, _):
        _low_credit_alarm(station, meter, client, 300)  # 3.00
        sold, status = _remote_topup(station, meter, client, "5", "CRIT-1")
        _arrived(station, meter, "topup")
        bought = f"{status['credit_text']} 元电费"  # a new meter: its credit is the top-up's
        _sms(sms_gateway, phone, f"电表 {meter} 充值 {sold['amount']} 元成功：{bought}。")
        mail = _mail(smtp_server, f"充值成功：电表 {meter}")
        assert f"支付的 {sold['amount']} 元已确认：{bought}。" in mail["body"], mail["body"]
        assert "credit" not in mail["body"]  # no English word in the Chinese message

        client.request("sim.load", watts=4700)  # at 2.00/kWh: 15 2/3 cents a minute
        low = _run_down(client, lambda s: s["zone"] != "normal")
        assert low["zone"] == "low", low
        _arrived(station, meter, "credit_low")
        text = low["credit_text"]  # the meter's own figure at the alarm, in money
        mail = _mail(smtp_server, f"电表 {meter} 余额不足")
        assert f"余额不足：剩余 {text}，约 {text} 元。" in mail["body"], mail["body"]
        _sms(sms_gateway, phone, f"电表 {meter} 余额不足：剩余 {text}（约 {text} 元）")

        # Run on well past zero: the supply stays on, and nobody is told it was cut.
        after = _run_down(client, lambda s: s["credit"] < -100)
        assert after["relay"] == "closed" and after["relay_reason"] == "never_disconnect", after
        events = client.all_events()
        assert not [e for e in events if e["event"] == "relay" and e["a"] == 0], events
        last = events[-1]["seq"]
        links = db.meter_links
        acked = select(links.c.acked_seq).where(links.c.meter == meter)
        stored = lambda: station.read(lambda c: c.execute(acked).scalar()) >= last  # noqa: E731
        wait(stored, WAIT_S, "every event stored by the head-end")
        # The dispatcher polls every 0.2 s: a message queued with the last event is out by the
        # time a later sale's confirmation is (the dispatcher sends in queue order).
        _remote_topup(station, meter, client, "1", "CRIT-2")
        wait(lambda: len(_sent(station, meter)) == 6, WAIT_S, "the second top-up's messages")

    kinds = sorted(k for k, _ in _sent(station, meter))
    assert kinds == sorted(["topup", "credit_low", "topup"] * 2), kinds
    assert len(smtp_server.messages) == len(sms_gateway.received) == 3
