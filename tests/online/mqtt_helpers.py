"""A small blocking paho-mqtt client for the tests (connect, subscribe, collect, publish), the
head-end service running in a thread, and the whole chain: a station's head-end, the real
Mosquitto and a simulated meter online."""

import contextlib
import queue
import threading
import time

import paho.mqtt.client as mqtt
from sqlalchemy import select

from host_tools.device.client import DeviceClient
from host_tools.headend.service import Headend, serve
from host_tools.provisioning import provision_meter
from host_tools.sim import SimMeter
from host_tools.vending import db
from host_tools.vending.station import Station
from tests.support.mosquitto import ScratchBroker

METER_PASSWORD = "meter-3-secret"


class Probe:
    """A connected MQTT 3.1.1 client whose received messages land in a queue."""

    def __init__(self, broker, user, password, client_id=None):
        self.messages = queue.Queue()
        self.granted = queue.Queue()
        self.published = queue.Queue()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or "probe-" + user,
            protocol=mqtt.MQTTv311,
        )
        self.client.username_pw_set(user, password)
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload, m.retain))
        self.client.on_subscribe = lambda c, u, mid, codes, props: self.granted.put(
            [code.value for code in codes]
        )
        connected = queue.Queue()
        self.client.on_connect = lambda c, u, flags, code, props: connected.put(code.value)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.connect_code = connected.get(timeout=5)

    def subscribe(self, topic, qos=1):
        """Subscribe and return the broker's granted QoS list (0x80 = refused)."""
        self.client.subscribe(topic, qos)
        return self.granted.get(timeout=5)

    def publish(self, topic, payload, qos=1, retain=False):
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(5)
        return info

    def collect(self, seconds):
        """Every message received within `seconds`."""
        out = []
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return out
            try:
                out.append(self.messages.get(timeout=left))
            except queue.Empty:
                return out

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


@contextlib.contextmanager
def running_headend(home, broker, ca_file=None, notify=False):
    """The head-end service on its own Station of `home`, connected to `broker` (over TLS with
    `ca_file`), its worker thread running; with `notify`, as `prepay headend` runs it (`serve`:
    the customer-message dispatcher beside it, polling every 0.2 s); stopped and closed on
    exit."""
    station = Station(str(home))
    headend = Headend(
        station, broker.url, broker.headend_user, broker.headend_password, ca_file=ca_file
    )
    stop = threading.Event()
    failures = []

    def work():
        try:
            if notify:
                serve(headend, stop, poll=0.2)
            else:
                headend.run(stop)
        except BaseException as error:  # noqa: BLE001 - raised in the test's thread below
            failures.append(error)

    worker = threading.Thread(target=work, daemon=True)
    headend.start()
    worker.start()
    # Subscribed before the test's first publish: a probe, unlike a meter, never resends.
    assert headend.connected.wait(10), "the head-end did not connect to the broker"
    try:
        yield headend
    finally:
        stop.set()
        worker.join(10)
        headend.close()
        station.close()
    if failures:
        raise failures[0]  # a worker or dispatcher that died must not pass unseen


def wait(pred, timeout, what):
    """Poll `pred` until true (returns the monotonic time then) or fail after `timeout` s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"not {what} within {timeout} s")


def meter_link(station, meter):
    links = db.meter_links
    return station.read(lambda c: c.execute(select(links).where(links.c.meter == meter)).first())


@contextlib.contextmanager
def online_chain(tmp_path, station, meter_number, provisioned_by=None, notify=False):
    """A broker, the head-end of `station` (with its message dispatcher if `notify`) and a
    simulated meter `meter_number` provisioned by the station of home `provisioned_by`
    (default: `station`'s), online: (meter client, broker, head-end)."""
    with (
        ScratchBroker(meters={meter_number: METER_PASSWORD}) as broker,
        SimMeter(tmp_path / "state", speed=0) as sim,
    ):
        provision_meter(sim.port, meter_number, home=str(provisioned_by or station.home))
        with (
            running_headend(station.home, broker, notify=notify) as headend,
            DeviceClient(sim.port, timeout=10) as meter,
        ):
            meter.request("net.set", network={"broker": broker.url, "password": METER_PASSWORD})
            link = lambda: meter_link(station, meter_number)  # noqa: E731
            wait(lambda: link() is not None and link().online, 10, "online")
            yield meter, broker, headend
