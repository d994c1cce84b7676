"""Flash wear of the journal at the meter's maximum load, projected over 20 years.

Runs the real firmware: a Meter at 100 A x 240 V (24 kW) with a 1000 imp/kWh pulse input,
the app's loop once a second (pulses, tick, MeterStore.maybe_save with the default
WritePolicy), one credit token a day, on a NOR RAM device with the production layout
(docs/journal.md: 512 KiB partition, 4 KiB sectors). After SIM_DAYS simulated days it reads
the device's per-sector erase counters and projects them linearly to 20 years: the journal
writes round-robin, so every simulated day wears the flash like any other.

Prints the highest erase count of any sector against the 100,000-cycle budget, writes per day
and the energy one power cut can lose (measured and the policy's bound). Then the event ring's
wear on a networked meter (cursor_wear): the upload cursor is a 32-byte record in the event
ring (docs/online.md), at worst one per event when every event is acknowledged on its own.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from firmware.core.meter_store import MeterStore  # noqa: E402
from firmware.core.write_policy import WritePolicy  # noqa: E402
from firmware.hal.sim_flash import RamBlockDevice  # noqa: E402
from token_spec import encode_token, make_meter_number, tid_from_time  # noqa: E402
from token_spec.types import TYPE_CREDIT  # noqa: E402

PARTITION_BYTES = 512 * 1024
SECTOR = 4096
YEARS = 20
BUDGET = 100_000
SIM_DAYS = 3
WATTS = 100 * 240
IMP_PER_KWH = 1000
LOOP_S = 1  # the app's main loop takes pulses once a second
DAY = 86400
START = 200_000_000

SETTINGS = {
    "meter_number": make_meter_number("0400000001"),
    "decoder_key": bytes(range(16)),
    "unit": "currency",
    "scale": 100,
    "pulses_per_kwh": IMP_PER_KWH,
    "tariff": {"type": "flat", "price": 25},  # 0.25 per kWh: a daily token covers a day
    "config": {},
}


def main():
    dev = RamBlockDevice(SECTOR, PARTITION_BYTES // SECTOR)
    policy = WritePolicy()
    store = MeterStore(dev, policy)
    now = START
    meter = store.provision(SETTINGS, now)  # a blank partition, as a new meter has
    commits = 0
    worst_unsaved = 0
    pulses_due = 0  # pulse count in thousandths, so 24 kW yields exactly 6.667 pulses a second
    tid = tid_from_time(now)
    began = time.perf_counter()
    for second in range(SIM_DAYS * DAY // LOOP_S):
        now += LOOP_S
        if second % (DAY // LOOP_S) == 0:  # the customer buys a day's credit every morning
            tid += 1
            token = encode_token(
                SETTINGS["decoder_key"], SETTINGS["meter_number"], TYPE_CREDIT, 16_000, tid
            )
            meter.enter_token(token, now)
            commits += store.save(meter, now)
        pulses_due += WATTS * IMP_PER_KWH * LOOP_S * 1000 // 3_600_000
        batch, pulses_due = divmod(pulses_due, 1000)
        meter.add_pulses(batch, now)
        meter.tick(now)
        worst_unsaved = max(worst_unsaved, meter.energy_wh - policy.saved_wh)
        commits += store.maybe_save(meter, now)
    elapsed = time.perf_counter() - began

    journal = store.journal
    days_of_20y = YEARS * 36525 // 100
    per_day = [count / SIM_DAYS for count in dev.erase_counts]
    worst_sector = max(range(len(per_day)), key=per_day.__getitem__)
    projected = per_day[worst_sector] * days_of_20y
    years_in_budget = BUDGET / per_day[worst_sector] / 365.25
    batch_wh = -(-WATTS * LOOP_S // 3600) + 1  # one loop's energy, plus one pulse mid-write
    reg = journal.register_ring
    print("layout: %d KiB partition, %d-byte sectors" % (PARTITION_BYTES // 1024, SECTOR))
    print(
        "  config 2 sectors, events %d sectors (%d records), registers %d sectors x %d records"
        % (journal.event_ring.blocks, journal.event_ring.slots, reg.blocks, reg.per_block)
    )
    print(
        "load: %d W continuous at %d imp/kWh; policy: save every %d Wh or %d min; %d days run"
        " in %.1f s" % (WATTS, IMP_PER_KWH, policy.save_wh, policy.save_s // 60, SIM_DAYS, elapsed)
    )
    print(
        "writes per day: %.0f commits (%d journal commits in %d days)"
        % (commits / SIM_DAYS, commits, SIM_DAYS)
    )
    print(
        "highest erase count: sector %d, %.1f erases/day -> %.0f in %d years (budget %d, %.0f%%)"
        % (worst_sector, per_day[worst_sector], projected, YEARS, BUDGET, 100 * projected / BUDGET)
    )
    print("years within budget at this load: %.1f" % years_in_budget)
    print(
        "loss per power cut: measured worst %d Wh unsaved; bound %d Wh (policy.loss_bound_wh)"
        % (worst_unsaved, policy.loss_bound_wh(batch_wh))
    )
    ring_ok = cursor_wear()
    ok = projected <= BUDGET and policy.loss_bound_wh(batch_wh) <= 100 and ring_ok
    print(
        "target (>= 20 years within budget, <= 0.1 kWh per cut): %s" % ("met" if ok else "MISSED")
    )
    return 0 if ok else 1


EVENTS_PER_DAY = 1440  # a busy meter: an event a minute, all day, every day


def cursor_wear():
    """Days of EVENTS_PER_DAY events through the real MeterStore, each committed and then
    acknowledged on its own (the worst case: no burst to share a cursor record), against the
    same day without a cursor; prints the event ring's erases projected to 20 years."""
    rates = []
    for with_cursor in (False, True):
        dev = RamBlockDevice(SECTOR, PARTITION_BYTES // SECTOR)
        store = MeterStore(dev, WritePolicy())
        now = START
        meter = store.provision(SETTINGS, now)
        ring = store.journal.event_ring
        first = ring.first_block
        for minute in range(2 * EVENTS_PER_DAY):  # day 1 fills the blank ring, day 2 counts
            if minute == EVENTS_PER_DAY:
                before = sum(dev.erase_counts[first : first + ring.blocks])
            now += 60
            meter.set_tamper(not meter.tamper_open, now)  # one event, an urgent save
            store.save(meter, now)
            if with_cursor:
                store.save_cursor(store.journal.event_seq)
        erases = sum(dev.erase_counts[first : first + ring.blocks]) - before
        rates.append(erases / ring.blocks)  # per sector per day (round-robin: all alike)
    days = YEARS * 36525 // 100
    print(
        "event ring, %d events/day each acked alone (a cursor record per event, the worst):"
        % EVENTS_PER_DAY
    )
    for label, rate in zip(("without cursor", "with cursor"), rates, strict=True):
        print(
            "  %-15s %.1f erases/sector/day -> %.0f in %d years (%.0f%% of budget)"
            % (label, rate, rate * days, YEARS, 100 * rate * days / BUDGET)
        )
    return rates[1] * days <= BUDGET


if __name__ == "__main__":
    sys.exit(main())
