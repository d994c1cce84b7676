"""The pulse path: exact debit, remainders, boundaries, and no allocation (MicroPython)."""

import support
from core_fixtures import HOUR, MONDAY, TOU_EIGHT, meter

from firmware.core.calendar import DAY


def test_flat_debit_carries_remainder_exactly():
    m = meter(credit=1000, tariff={"type": "flat", "price": 15})
    total = 0
    for n in (1, 7, 66, 1000, 3, 250):
        m.add_pulses(n, MONDAY + 60)
        total += n
        # 15 register units per kWh, 1000 pulses per kWh: debit floor(15 * pulses / 1000).
        assert m.credit == 1000 - (15 * total) // 1000
        assert m.cost_rem == (15 * total) % 1000
    assert m.energy_wh == total


def test_tou_boundary_inside_batch_is_split_by_time():
    m = meter(credit=10000, tariff=TOU_EIGHT)
    m.add_pulses(0, MONDAY + 5 * HOUR + 50 * 60)  # 05:50
    # 600 pulses spread over 05:50-06:10: 300 before 06:00 at 10, 300 after at 20.
    m.add_pulses(600, MONDAY + 6 * HOUR + 10 * 60)
    assert m.credit == 10000 - (300 * 10 + 300 * 20) // 1000
    assert m.cost_rem == (300 * 10 + 300 * 20) % 1000


def test_batch_over_two_boundaries():
    m = meter(credit=10000, tariff=TOU_EIGHT)
    m.add_pulses(0, MONDAY + 7 * HOUR)  # 07:00 at 20
    # 07:00-09:30, 5000 pulses: 1000 to 07:30 (20), 3000 to 09:00 (25), 1000 after (18)
    m.add_pulses(5000, MONDAY + 9 * HOUR + 30 * 60)
    cost = 1000 * 20 + 3000 * 25 + 1000 * 18
    assert m.credit == 10000 - cost // 1000
    assert m.cost_rem == cost % 1000


def test_share_before_boundary_rounds_down():
    m = meter(credit=10000, tariff=TOU_EIGHT)
    m.add_pulses(0, MONDAY + 6 * HOUR - 2)
    # A batch ending exactly at 06:00 is wholly before the switch: 2 pulses at 10.
    m.add_pulses(2, MONDAY + 6 * HOUR)
    assert m.cost_rem == 20
    # 5 pulses over 06:00-06:00:03 cross nothing; 3 over 07:29:59-07:30:01: 1 at 20, 2 at 25.
    m.add_pulses(5, MONDAY + 6 * HOUR + 3)
    assert m.cost_rem == 20 + 100
    m.add_pulses(0, MONDAY + 7 * HOUR + 30 * 60 - 1)
    m.add_pulses(3, MONDAY + 7 * HOUR + 30 * 60 + 1)
    assert m.cost_rem == 20 + 100 + 20 + 50


def test_weekend_and_midnight_day_type():
    m = meter(credit=10000, tariff=TOU_EIGHT)
    friday = MONDAY + 4 * DAY
    m.add_pulses(0, friday + 23 * HOUR)
    # Friday 23:00-Saturday 01:00: 1000 pulses at weekday 12, 1000 at weekend 9.
    m.add_pulses(2000, friday + 25 * HOUR)
    assert m.credit == 10000 - (1000 * 12 + 1000 * 9) // 1000
    assert m.cost_rem == (1000 * 12 + 1000 * 9) % 1000


def test_holiday_prices_use_holiday_table():
    config = {"holidays": ["2026-03-03"]}
    m = meter(credit=10000, tariff=TOU_EIGHT, config=config)
    m.add_pulses(0, MONDAY + DAY + 12 * HOUR)
    m.add_pulses(1000, MONDAY + DAY + 13 * HOUR)
    assert m.credit == 10000 - 5


def test_block_tariff_splits_at_block_end_and_resets_on_the_first():
    blocks = {"type": "blocks", "blocks": [[2, 10], [3, 20], [5, 30], [0, 50]]}
    m = meter(credit=100000, tariff=blocks)
    t = MONDAY + HOUR
    m.add_pulses(1500, t)  # 1.5 kWh in block 1
    m.add_pulses(1000, t + 60)  # 0.5 kWh at 10, 0.5 kWh at 20
    cost = 2000 * 10 + 500 * 20
    assert m.credit == 100000 - cost // 1000
    m.add_pulses(8000, t + 120)  # 2.5 kWh at 20, 5 at 30, 0.5 at 50
    cost += 2500 * 20 + 5000 * 30 + 500 * 50
    assert m.credit == 100000 - cost // 1000
    assert m.status(t)["price"] == 50
    # 2026-04-01 00:00 UTC: the month's block energy starts again at block 1.
    april = MONDAY + 30 * DAY
    m.add_pulses(0, april)
    m.add_pulses(1000, april + 60)
    cost += 1000 * 10
    assert m.credit == 100000 - cost // 1000
    assert m.month_pulses == 1000


def test_kwh_meter_counts_energy_in_register_units():
    m = meter(credit=5000, unit="kwh", scale=1000, ppk=800)
    m.add_pulses(1200, MONDAY + 60)  # 1.5 kWh = 1500 Wh
    assert m.credit == 3500
    assert m.energy_wh == 1500
    assert m.lifetime_pulses() == 1200


def test_long_gap_and_huge_batch_stay_exact():
    m = meter(tariff={"type": "flat", "price": 1 << 20}, ppk=100000)
    m.credit = 1 << 29
    m.add_pulses(50000, MONDAY + 30 * DAY)  # split into batch-size steps
    assert m.config.batch * (1 << 20) + 100000 < 1 << 30
    assert m.credit == (1 << 29) - (50000 << 20) // 100000
    assert m.cost_rem == (50000 << 20) % 100000


def test_heap_locked_pulse_path_near_2_30():
    try:
        import micropython
    except ImportError:
        support.skip("heap_lock exists only on MicroPython")
    m = meter(credit=1000, tariff=TOU_EIGHT)
    m.credit = (1 << 30) - 2
    m.energy_wh = (1 << 30) - 10 * 1000 * 1000
    counts = [(i * 7919) % 23 for i in range(64)]
    t = MONDAY + 5 * HOUR
    start_credit = m.credit
    micropython.heap_lock()
    try:
        for i in range(10000):
            t += 37  # 10,000 batches cross TOU switch points and several midnights
            m.add_pulses(counts[i & 63], t)
    finally:
        micropython.heap_unlock()
    assert m.credit < start_credit
    assert m.credit > 0
    assert m.local_day == (t // DAY)


def test_heap_locked_block_tariff_across_month_start():
    try:
        import micropython
    except ImportError:
        support.skip("heap_lock exists only on MicroPython")
    blocks = {"type": "blocks", "blocks": [[1, 10], [2, 20], [3, 30], [0, 40]]}
    m = meter(tariff=blocks, config={"holidays": ["2026-04-01"], "standing_charge": 10})
    m.credit = (1 << 30) - 2
    april = MONDAY + 30 * DAY
    t = april - 2 * DAY
    m.add_pulses(0, t)
    micropython.heap_lock()
    try:
        for i in range(5000):
            t += 61
            m.add_pulses(i & 15, t)
    finally:
        micropython.heap_unlock()
    assert t > april and m._block > 0
    assert m.month_pulses < 5000 * 15 // 2  # reset on the 1st


def test_tou_with_blocks_charges_time_price_plus_block_price():
    # 06:00-... weekday at 20 plus the block: 1 kWh at +0, then +10 (issue 13 item 7).
    tariff = {
        "type": "tou_blocks",
        "weekday": [["00:00", 10], ["06:00", 20]],
        "blocks": [[1, 0], [0, 10]],
    }
    m = meter(credit=10000, tariff=tariff)
    m.add_pulses(0, MONDAY + 5 * HOUR)
    m.add_pulses(800, MONDAY + 5 * HOUR + 30 * 60)  # 0.8 kWh at 10 + 0
    cost = 800 * 10
    m.add_pulses(0, MONDAY + 6 * HOUR)
    m.add_pulses(400, MONDAY + 6 * HOUR + 60)  # 0.2 kWh at 20 + 0, 0.2 kWh at 20 + 10
    cost += 200 * 20 + 200 * 30
    assert m.credit == 10000 - cost // 1000
    assert m.cost_rem == cost % 1000
    assert m.status(MONDAY + 6 * HOUR + 60)["price"] == 30
