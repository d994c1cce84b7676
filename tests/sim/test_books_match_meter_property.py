"""The station's books against the meter (issue 13's Done-when): random sequences of sales,
sale reversals with their void tokens, tariff changes with the configs they sign, arrears
raised, adjusted, written off and reversed, driven against a station AND the real firmware
behind `prepay sim` (one simulator per run, speed 0: its clock never moves, so nothing is
consumed and no standing charge accrues on the meter).

A sale's token is entered at once or kept in the customer's pocket and entered later; a
reversal's void token is entered at once (the receipt tells the customer to), and a pocketed
token of a reversed sale must then answer `used`. After every step:

    meter credit − meter debt + units of the kept sales' tokens still in the pocket
    == units on the tokens of the sales the books keep (not reversed)

in register units, i.e. to the minor unit on a currency meter (scale 100: one unit is one
cent) and to the Wh on a kWh meter; and on a currency meter also

    the same figure == what the books say the customer paid for: customer_prepayment, net of
    reversals (the rest of a payment is debt recovery or carried forward on the station).

So a void entered after its token takes back exactly that token's value (debt += amount), one
entered before makes the token give nothing, arrears are recovered only on the station (the
meter never hears of them), and a tariff change moves no credit. docs/station.md, Controls.
"""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from host_tools import provisioning as pv
from host_tools.device.client import DeviceClient
from host_tools.sim import SimMeter
from host_tools.vending import StationError, arrears, db, keystore, mgmt, registry, vend
from host_tools.vending.money import fmt, parse_amount
from tests.sim.interpreters import interpreter_path
from tests.vending.vending_setup import REFUSALS, at, make_station
from token_spec import make_meter_number

NOW = at("2026-03-10 12:00")
PASSPHRASE = "books match the meter passphrase"
# One meter per run, both on the tariff "recover" (flat 2.00/kWh, 25 % arrears recovery capped
# at 10.00): a currency meter in cents, a kWh meter in Wh.
CURRENCY = make_meter_number("0000000007")
KWH = make_meter_number("0000000008")
AMOUNTS = st.one_of(
    st.integers(1, 300_000), st.sampled_from([1, 99, 16_385, 163_851, 170_055, 999_999])
)
TARIFFS = st.sampled_from(["domestic", "flat", "recover", "standing", "daily", "tou"])


def _kept_books(conn, meter):
    """(units on the kept sales' credit tokens, customer_prepayment net of reversals)."""
    t, rev = db.tokens, db.reversals
    units = conn.execute(
        select(func.coalesce(func.sum(t.c.value), 0)).where(
            t.c.meter == meter,
            t.c.token_type == "credit",
            t.c.txn_id.not_in(select(rev.c.original_id)),
        )
    ).scalar_one()
    e = db.entries
    prepaid = conn.execute(
        select(func.coalesce(func.sum(e.c.amount), 0)).where(
            e.c.meter == meter, e.c.account == "customer_prepayment"
        )
    ).scalar_one()
    return int(units), -int(prepaid)


class BooksAndMeter(RuleBasedStateMachine):
    home = None  # set per run by the test (a fresh folder)

    @initialize(currency=st.booleans())
    def open_station_and_meter(self, currency):
        self.station = make_station(self.home / "station")
        stamp = self.station.stamp(NOW)
        self.meter = CURRENCY if currency else KWH
        self.scale = 100 if currency else 1000

        def more(conn):
            unit = "currency" if currency else "kwh"
            registry.add_meter(
                conn, self.meter, unit, self.scale, 1000, "recover", "", "", False, stamp
            )
            tou = registry.tou_table("tou", "00:00:1.00,17:00:3.00")
            registry.add_tariff(conn, "tou", "tou", [(None, 0)], 0, 0, None, stamp, tou=tou)
            flat = registry.tariff_blocks("flat", "2.00", None)
            # 30.00 a month = 1.00 a day: a standing charge a currency meter can apply.
            registry.add_tariff(conn, "daily", "flat", flat, parse_amount("30"), 0, None, stamp)

        self.station.write(more)
        self.sim = SimMeter(self.home / "meter", speed=0)
        self.sim.start()
        pv.provision_meter(self.sim.port, self.meter, self.home / "station", now=NOW)
        self.client = DeviceClient(self.sim.port, timeout=10)
        self.client.open()
        self.sales = []  # receipts of kept (not reversed) sales
        self.pocket = {}  # receipt number -> sale whose token the customer has not entered
        self.arrears = []  # receipt numbers of arrears raised
        self.refs = 0
        event("currency meter" if currency else "kWh meter")

    def teardown(self):
        for name in ("client", "sim", "station"):
            thing = getattr(self, name, None)
            if thing is not None:
                (thing.close if name != "sim" else thing.stop)()

    def _try(self, action):
        try:
            return action()
        except StationError as error:
            assert any(words in str(error) for words in REFUSALS), error
            return None

    def _enter(self, digits):
        return self.client.request("token", token=digits)["result"]

    # Two sale rules (cash and mobile money), so that sales are the commonest step, as at a
    # counter, and there is usually something to reverse.
    @rule(minor=AMOUNTS, enter=st.booleans())
    def sell_for_cash(self, minor, enter):
        self._sell(minor, enter, "cash")

    @rule(minor=AMOUNTS, enter=st.booleans())
    def sell_by_mobile_money(self, minor, enter):
        self._sell(minor, enter, "mobile")

    def _sell(self, minor, enter, channel):
        self.refs += 1
        ref = f"r{self.refs}"
        r = self._try(
            lambda: vend.sell(self.station, self.meter, fmt(minor), ref, channel, "boss", NOW)
        )
        event("sale refused" if r is None else "sale")
        if r is None:
            return
        self.sales.append(r)
        if enter:
            assert self._enter(r["token"]) == "accepted", r
        else:
            self.pocket[r["receipt"]] = r

    @precondition(lambda self: self.pocket)
    @rule(index=st.integers(0, 8))
    def enter_a_pocketed_token(self, index):
        receipts = sorted(self.pocket)
        sale = self.pocket.pop(receipts[index % len(receipts)])
        assert self._enter(sale["token"]) == "accepted", sale

    @precondition(lambda self: self.sales)
    @rule(index=st.integers(0, 8))
    def reverse_a_sale(self, index):
        sale = self.sales[-1 - index % len(self.sales)]
        rev = vend.reverse(self.station, sale["receipt"], "wrong meter", "boss", now=NOW)
        self.sales.remove(sale)
        void = rev.get("void_token")
        if void is not None:
            assert self._enter(void) == "accepted", rev
        pocketed = self.pocket.pop(sale["receipt"], None)
        if pocketed is not None:
            assert self._enter(sale["token"]) == "used"  # the void made it worthless
        event("reversed " + ("before entry" if pocketed else "after entry"))

    @rule(tariff=TARIFFS)
    def change_tariff(self, tariff):
        r = self._try(lambda: mgmt.change_tariff(self.station, self.meter, tariff, "boss", NOW))
        if r is not None and r["config"] is not None:
            config = r["config"]
            assert self.client.set_config(config["blob"])["applied"] is True
            mgmt.config_applied(self.station, self.meter, config["counter"], "boss", NOW)
            event("config applied")

    @rule(minor=st.integers(1, 800_000), boss=st.booleans())
    def raise_arrears(self, minor, boss):
        supervisor = "boss" if boss else ""
        try:
            r = mgmt.add_arrears(
                self.station, self.meter, fmt(minor), "", now=NOW, supervisor=supervisor
            )
        except StationError as error:
            assert "needs a supervisor" in str(error) and not boss, error
            return
        self.arrears.append(r["receipt"])

    @precondition(lambda self: self.arrears)
    @rule(
        index=st.integers(0, 4),
        how=st.sampled_from(["adjust", "write-off", "reverse"]),
        minor=st.integers(1, 300_000),
    )
    def correct_arrears(self, index, how, minor):
        number = self.arrears[-1 - index % len(self.arrears)]
        new = fmt(minor) if how == "adjust" else None
        done = self._try(
            lambda: arrears.correct(self.station, how, number, "fix", "boss", new, now=NOW)
        )
        event(f"arrears {how}" + (" refused" if done is None else ""))

    @invariant()
    def meter_holds_what_the_books_sold(self):
        if getattr(self, "client", None) is None:
            return
        status = self.client.request("status")
        on_meter = status["credit"] - status["debt"]
        pocketed = sum(sale["units"] for sale in self.pocket.values())
        units, prepaid = self.station.read(lambda conn: _kept_books(conn, self.meter))
        assert on_meter + pocketed == units, (status, pocketed, units)
        if self.meter == CURRENCY:
            assert (on_meter + pocketed) * 100 == prepaid * self.scale, (status, prepaid)


# Bounded: every run starts a simulator (about a second); no shrink phase, which would replay
# runs (the unshrunk failing steps are printed).
SETTINGS = settings(
    max_examples=15,
    stateful_step_count=20,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def interpreter(monkeypatch):
    """PyPI's interpreter only (overrides tests/sim/conftest.py's pair): every run starts a
    simulator, so both would double the test's time (to about a minute and a half on a loaded
    2-core machine) for no new coverage: the meter code under test (tokens, void, config) is
    the same on both, and the 32-bit build's small-int bounds are tested in tests/shared and the
    other simulator scenarios."""
    monkeypatch.setenv("PREPAY_MICROPYTHON", interpreter_path("pypi"))
    return "pypi"


@pytest.fixture
def quick_station(monkeypatch):
    monkeypatch.setenv("PREPAY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("PREPAY_USER_PASSWORD", PASSPHRASE)  # the first admin (station init)
    monkeypatch.setattr(keystore, "SCRYPT_N", 2**10)


def test_the_meter_holds_exactly_what_the_books_sold(tmp_path, quick_station):
    runs = iter(range(10**6))

    class Run(BooksAndMeter):
        def __init__(self):
            super().__init__()
            self.home = Path(tmp_path) / f"run{next(runs)}"

    run_state_machine_as_test(Run, settings=SETTINGS)
