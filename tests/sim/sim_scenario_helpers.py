"""Shared values for the pty tests: the test meter's settings and token maker."""

from token_spec import encode_token
from token_spec.types import TYPE_CREDIT

METER = "12345678903"
KEY = bytes(range(16))
START = 200000000  # 2026-05-03 (a Sunday), meter time
SETTINGS = {
    "meter_number": METER,
    "decoder_key": KEY.hex(),
    "unit": "currency",
    "scale": 100,
    "pulses_per_kwh": 1000,
    "tariff": {"type": "flat", "price": 100},  # 1.00 per kWh
}


def token(amount, minute=0, key=KEY):
    """A credit token; distinct `minute`s give distinct TIDs."""
    return encode_token(key, METER, TYPE_CREDIT, amount, START // 60 + minute)


def provision(client, **config):
    """Set the clock to START and provision the meter with `config`."""
    client.request("sim.time", time=START)
    client.request("provision", config=config, **SETTINGS)


def power_cut(client):
    """Cut the simulated meter's power and wait for the restarted firmware's boot event."""
    client.events_pending()  # anything queued so far came from before the cut
    assert client.request("sim.power_cut") == {"power_cut": True}
    return client.wait_event("boot", timeout=15)
