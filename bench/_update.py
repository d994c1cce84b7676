"""How long a field update takes over a 115200-baud serial link.

Runs the real firmware under `prepay sim`, provisions it, builds an mpy bundle of this tree and
delivers it with host_tools/device/update.py — the client paced exactly as it paces a real
serial port (64-byte pieces 20 ms apart: the board's 260-byte stdin ring, see
host_tools/device/client.py), which is slower than the 115200-baud wire in that direction.
The answers' own time on the wire (10 bits a byte at 115200 baud) is added, since a pty sends
them instantly. Prints the time for this bundle, the rate, and what a whole ESP32 app image
(the OTA slot's payload) takes at that rate. Not included: the board's flash erase and write
(about 40 ms per 4 KiB block on an ESP32, overlapped with receiving only partly).

    .venv/bin/python bench/_update.py   (bench/firmware.py prints it too)
"""

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BAUD = 115200
BITS_PER_BYTE = 10  # start + 8 data + stop
APP_IMAGE_BYTES = 1_500_000  # an ESP32_GENERIC-OTA app with the meter frozen in (slot: 1.5 MiB)


def bench_update():
    """Deliver one bundle to a simulated meter with real-port pacing; returns the figures."""
    from host_tools.device.client import DeviceClient
    from host_tools.device.update import build_bundle, send_bundle
    from host_tools.sim import SimMeter
    from tests.sim.sim_scenario_helpers import METER, SETTINGS, START
    from token_spec.keys import derive_maintenance_key

    key = derive_maintenance_key(bytes(range(32)), METER, 1)
    header, payload = build_bundle(key, METER, "9.0.0").split(b"\n", 1)
    with tempfile.TemporaryDirectory(prefix="prepay-bench-update-") as state:
        with SimMeter(state, speed=0) as sim, DeviceClient(sim.port, pace=True) as meter:
            meter.request("sim.time", time=START)
            meter.request("provision", maintenance_key=key.hex(), **SETTINGS)
            received = bytearray()
            read = meter.serial.read

            def counting_read(n=1):
                data = read(n)
                received.extend(data)
                return data

            meter.serial.read = counting_read
            start = time.monotonic()
            result = send_bundle(meter, header.decode(), payload)
            paced = time.monotonic() - start
    answers_on_wire = len(received) * BITS_PER_BYTE / BAUD
    total = paced + answers_on_wire
    return {
        "payload": len(payload),
        "paced_s": paced,
        "answers_wire_s": answers_on_wire,
        "total_s": total,
        "rate": len(payload) / total,
        "to": result["to"],
    }


def main():
    r = bench_update()
    print("field update over a %d-baud serial link (simulator, real-port pacing)" % BAUD)
    print("  mpy bundle payload       %8d bytes" % r["payload"])
    print("  sent with pacing         %8.1f s" % r["paced_s"])
    print("  answers on the wire     +%8.1f s" % r["answers_wire_s"])
    print(
        "  update time              %8.1f s  (restart and version check included)" % r["total_s"]
    )
    print("  rate                     %8.0f payload bytes/s" % r["rate"])
    print(
        "  ESP32 app image %d bytes at that rate: %.0f s (%.1f min)"
        % (APP_IMAGE_BYTES, APP_IMAGE_BYTES / r["rate"], APP_IMAGE_BYTES / r["rate"] / 60)
    )


if __name__ == "__main__":
    main()
