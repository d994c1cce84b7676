"""Issue 13 item 8: status showed 0 W while 3 kW flowed on a meter with no power limit."""

from core_fixtures import MONDAY, meter

T = MONDAY + 3600


def test_power_is_measured_when_no_limit_is_set():
    m = meter(credit=10000)
    assert m.config.power_limit == 0
    m.tick(T)
    t = T
    for _ in range(3):  # 50 pulses a minute at 1000/kWh = 3 kW
        t += 60
        m.add_pulses(50, t)
        m.tick(t)
    assert m.power_w == 3000
    assert m.status(t)["power_w"] == 3000
    assert m.relay_closed(t)  # measured, never limited: no trip without a limit
    t += 60
    m.tick(t)  # a minute with no pulses: the next window reads 0 W
    assert m.status(t)["power_w"] == 0
