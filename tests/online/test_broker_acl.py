"""The scratch Mosquitto: passwords required, each meter confined to its own topics."""

import pytest

from tests.online.mqtt_helpers import Probe
from tests.support.mosquitto import ScratchBroker

A, B = "01234567890", "09876543210"


@pytest.fixture(scope="module")
def broker():
    with ScratchBroker(meters={A: "pw-a", B: "pw-b"}) as b:
        yield b


def test_a_wrong_password_is_refused(broker):
    probe = Probe(broker, A, "not-it")
    try:
        assert probe.connect_code != 0
    finally:
        probe.close()


def test_meter_a_cannot_read_b_commands_nor_publish_as_b(broker):
    head = Probe(broker, broker.headend_user, broker.headend_password)
    a = Probe(broker, A, "pw-a")
    b = Probe(broker, B, "pw-b")
    try:
        assert head.connect_code == a.connect_code == b.connect_code == 0
        assert b.subscribe(f"prepay/v1/{B}/cmd") == [1]
        assert head.subscribe("prepay/v1/+/events") == [1]
        # Mosquitto 2 grants a subscription it will never feed; what matters is no delivery.
        a.subscribe(f"prepay/v1/{B}/cmd")
        a.subscribe("prepay/v1/#")
        head.publish(f"prepay/v1/{B}/cmd", b'{"ack": 1}')
        got_b = b.collect(1.0)
        assert [t for t, _, _ in got_b] == [f"prepay/v1/{B}/cmd"]
        assert [t for t, _, _ in a.collect(0.3) if B in t] == []
        # A publishing as B: accepted by the broker's protocol, delivered to nobody.
        a.publish(f"prepay/v1/{B}/events", b'{"seq": 1}')
        a.publish(f"prepay/v1/{A}/events", b'{"seq": 1}')
        topics = [t for t, _, _ in head.collect(1.0)]
        assert topics == [f"prepay/v1/{A}/events"]
    finally:
        for p in (head, a, b):
            p.close()


def test_restart_keeps_the_port(broker):
    port = broker.port
    broker.restart()
    probe = Probe(broker, A, "pw-a")
    try:
        assert broker.port == port and probe.connect_code == 0
    finally:
        probe.close()
