"""Random sequences of sales (kWh and currency meters, awkward amounts), sale reversals,
tariff changes (time-of-use too) and arrears raised, adjusted, written off and reversed (issue
13's Done-when, for the station). A currency meter's tariff change signs a config that every
later sale's receipt carries (item 3).

After every step: the books balance, the hash chain verifies, and for every meter

    what the customer paid (net of reversed sales, from the test's own model)
    + the station's loss on reversals (carry a reversed sale left that was already spent)
    == credit sold (energy or money the kept sales' receipts put on tokens, standing charges)
       + the value carried forward + arrears recovered (except from reversed arrears, whose
       recovery was credited back to the carry)

to the minor unit. Every token decodes to the units its receipt states.
"""

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from host_tools.vending import StationError, arrears, audit, db, mgmt, registry, reports, vend
from host_tools.vending.money import fmt
from tests.vending.vending_setup import METERS, REFUSALS, at, make_station
from token_spec import decode_token, derive_decoder_key, make_meter_number

NOW = at("2026-03-10 12:00")
# Currency meters with debt recovery (25 %, capped at 10.00): cents and tenths of a cent.
CENTS_METER = make_meter_number("0000000005")
MILLS_METER = make_meter_number("0000000006")
ALL_METERS = METERS + (CENTS_METER, MILLS_METER)
RECOVERING = (METERS[3], CENTS_METER, MILLS_METER)  # tariff "recover": 25 %, at most 10.00
# Sales go to recovering meters twice as often, arrears only to them: so runs often reverse an
# arrears and then a sale that recovered from it.
SALE_METERS = st.sampled_from(ALL_METERS + RECOVERING)
AWKWARD = st.sampled_from([1, 99, 16_385, 163_851, 170_055, 1_638_301, 999_999])
AMOUNTS = st.one_of(st.integers(1, 400_000), AWKWARD)

TARIFFS = st.sampled_from(["domestic", "flat", "recover", "standing", "tou"])


def _by_meter(conn, account, where=()):
    e = db.entries
    query = select(e.c.meter, func.sum(e.c.amount)).where(e.c.account == account, *where)
    return {m: int(v) for m, v in conn.execute(query.group_by(e.c.meter)).all()}


def _ledger(conn):
    """In one read: unbalanced txns, what each arrears owes, and per meter the station's loss
    on reversals, the carry and the arrears recovered (except from reversed arrears)."""
    e, closed = db.entries, db.arrears_closed
    unbalanced = conn.execute(
        select(e.c.txn_id).group_by(e.c.txn_id).having(func.sum(e.c.amount) != 0)
    ).all()
    owed = conn.execute(
        select(func.sum(e.c.amount))
        .where(e.c.account.in_(("arrears_receivable", "debt_recovery")))
        .group_by(e.c.arrear_id)
    ).scalars()
    reversed_ids = select(closed.c.arrear_id).where(closed.c.how == "reverse")
    return {
        "unbalanced": unbalanced,
        "owed": [int(v) for v in owed],
        "loss": _by_meter(conn, "reversals"),
        "carry": {m: -v for m, v in _by_meter(conn, "carry_forward").items()},
        "recovered": {
            m: -v
            for m, v in _by_meter(
                conn, "debt_recovery", [e.c.arrear_id.not_in(reversed_ids)]
            ).items()
        },
    }


class StationMachine(RuleBasedStateMachine):
    @initialize()
    def open_station(self):
        # On tmpfs where there is one: SQLite's fsync per write is what durability tests are
        # for; here it would only slow the run down.
        self.tmp = tempfile.TemporaryDirectory(
            dir="/dev/shm" if Path("/dev/shm").is_dir() else None
        )
        self.station = make_station(Path(self.tmp.name) / "home")

        stamp = self.station.stamp(NOW)

        def more_meters(conn):
            for number, scale in ((CENTS_METER, 100), (MILLS_METER, 1000)):
                registry.add_meter(
                    conn, number, "currency", scale, 1000, "recover", "", "", False, stamp
                )
            tou = registry.tou_table("tou", "00:00:1.00,17:00:3.00")
            registry.add_tariff(conn, "tou", "tou", [(None, 0)], 0, 0, None, stamp, tou=tou)

        self.station.write(more_meters)
        self.sales = []  # receipts of sales, in order
        self.reversed = set()  # receipt numbers of reversed sales
        self.arrears = []  # (receipt number, meter) of arrears raised
        self.refs = 0
        self.pending = {}  # meter -> the config counter its sales must carry

    def teardown(self):
        if hasattr(self, "station"):
            self.station.close()
            self.tmp.cleanup()

    def _try(self, action):
        try:
            return action()
        except StationError as error:
            assert any(words in str(error) for words in REFUSALS), error
            return None

    @rule(meter=SALE_METERS, minor=AMOUNTS)
    def sell(self, meter, minor):
        self.refs += 1
        ref = f"r{self.refs}"
        r = self._try(lambda: vend.sell(self.station, meter, fmt(minor), ref, "card", "boss", NOW))
        if r is not None:
            key = derive_decoder_key(self.station.key, meter, 1)
            assert decode_token(key, meter, r["token"])[1] == r["units"]
            if r["unit"] == "currency":
                assert r["prepayment_minor"] == r["units"] * 100 // r["scale"]
            if not r.get("replayed"):
                assert r.get("config_counter") == self.pending.get(meter), r
            self.sales.append(r)

    @rule(meter=st.sampled_from(ALL_METERS), tariff=TARIFFS)
    def change_tariff(self, meter, tariff):
        r = self._try(lambda: mgmt.change_tariff(self.station, meter, tariff, "boss", NOW))
        if r is not None and r["config"] is not None:
            self.pending[meter] = r["config"]["counter"]
            event("currency meter's tariff changed")

    @rule(index=st.integers(0, 8), debt=st.booleans())
    def reverse_sale(self, index, debt):
        """A recent sale, or (debt) a recent one that recovered arrears."""
        pool = [r for r in self.sales if r["debt_recovered_minor"] or not debt]
        if pool:
            sale = pool[-1 - index % len(pool)]
            reason = "test"
            done = self._try(
                lambda: vend.reverse(self.station, sale["receipt"], reason, "boss", now=NOW)
            )
            if done is not None:
                self.reversed.add(sale["receipt"])
                event("sale reversed" + (" (debt)" if sale["debt_recovered_minor"] else ""))

    @rule(meter=st.sampled_from(RECOVERING), minor=st.integers(1, 800_000), boss=st.booleans())
    def raise_arrears(self, meter, minor, boss):
        def add():
            return mgmt.add_arrears(
                self.station, meter, fmt(minor), "", now=NOW, supervisor="boss" if boss else ""
            )

        try:
            r = add()
        except StationError as error:
            assert "needs a supervisor" in str(error) and not boss, error
            assert minor > self.station.limits.arrears_approval
            return
        self.arrears.append((r["receipt"], meter))

    @rule(
        index=st.integers(0, 4),
        how=st.sampled_from(["adjust", "write-off", "reverse"]),
        minor=st.integers(0, 300_000),
    )
    def correct_arrears(self, index, how, minor):
        if self.arrears:
            number = self.arrears[-1 - index % len(self.arrears)][0]
            new = fmt(minor) if how == "adjust" and minor else None
            if how == "adjust" and new is None:
                return
            done = self._try(
                lambda: arrears.correct(self.station, how, number, "fix", "boss", new, now=NOW)
            )
            event(f"arrears {how}" + (" refused" if done is None else ""))

    @rule(how=st.sampled_from(["write-off", "reverse"]))
    def close_arrears_then_reverse_a_sale_that_recovered_them(self, how):
        """The awkward order: arrears closed after a sale recovered part of them, then that
        sale reversed (the recovery must not become owed again, nor the credit stay)."""
        kept = [r for r in self.sales if r["receipt"] not in self.reversed]
        paid_debt = [r for r in kept if r["debt_recovered_minor"]]
        if not paid_debt:
            return
        sale = paid_debt[-1]
        meter_arrears = [n for n, m in self.arrears if m == sale["meter"]]
        for number in meter_arrears:
            self._try(lambda n=number: arrears.correct(self.station, how, n, "x", "boss", now=NOW))
        vend.reverse(self.station, sale["receipt"], "test", "boss", now=NOW)
        self.reversed.add(sale["receipt"])
        event("closed then reversed")

    @invariant()
    def books_and_customers_balance(self):
        if not hasattr(self, "station"):
            return
        books = self.station.read(_ledger)
        assert books["unbalanced"] == [] and all(v >= 0 for v in books["owed"])
        for meter in ALL_METERS:
            kept = [r for r in self.sales if r["meter"] == meter]
            kept = [r for r in kept if r["receipt"] not in self.reversed]
            paid = sum(r["amount_minor"] for r in kept)
            credit = sum(
                r["energy_minor"] + r["prepayment_minor"] + r["standing_charge_minor"]
                for r in kept
            )
            carry, recovered = books["carry"].get(meter, 0), books["recovered"].get(meter, 0)
            assert carry >= 0 and books["loss"].get(meter, 0) >= 0  # a loss is never a gain
            assert paid + books["loss"].get(meter, 0) == credit + carry + recovered, meter

    def check_end(self):
        """Once per run: the day report, the audit and `meter show` agree with the ledger."""
        assert reports.day(self.station, "2026-03-10")["books_balance"]
        assert audit.verify(self.station)["ok"]
        books = self.station.read(_ledger)
        for meter in ALL_METERS:
            history = self.station.read(lambda conn, meter=meter: arrears.history(conn, meter))
            recovered = sum(a["recovered"] for a in history if a["status"] != "reversed")
            assert recovered == books["recovered"].get(meter, 0)
            shown = mgmt.meter_summary(self.station, meter)["carried_forward"]
            assert shown == fmt(books["carry"].get(meter, 0))


# Bounded run time (a few seconds): few examples of short runs, and no shrink phase, which
# would replay hundreds of station set-ups (the unshrunk failing steps are printed).
SETTINGS = settings(
    max_examples=15,
    stateful_step_count=40,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow],
)


def test_random_sales_reversals_and_arrears_keep_every_customer_whole(fast_kdf, station_env):
    class Checked(StationMachine):
        def teardown(self):
            if hasattr(self, "station"):
                self.check_end()
            super().teardown()

    run_state_machine_as_test(Checked, settings=SETTINGS)
