"""Field updates, host side: build a signed bundle for one meter, deliver it over serial.

    prepay device bundle --meter 12345678903 --out meter.pu1 [--version 0.2.0] [--app-image B]
    prepay device update --port /dev/ttyUSB0 meter.pu1

A bundle (token_spec/update_bundle.py) is a header signed with the meter's maintenance key
(token_spec.keys.derive_maintenance_key from the station's vending key) and a payload: an ESP32
app image (`--app-image`, the OTA build with the meter frozen in) or, for the simulator, an
archive of the firmware tree compiled with mpy-cross. Delivery uses the JSON-lines protocol
only (`update.begin`, `update.chunk` x N, `update.finish`; docs/firmware.md, "Field updates"),
then waits for the meter to restart and checks that it runs the new version — a meter that
comes back with the old one rolled the update back.
"""

import binascii
import hashlib
import re
import tempfile
import time
from pathlib import Path

from host_tools.build.mpy import CompileError, compile_file, source_files
from token_spec.keys import derive_maintenance_key
from token_spec.update_bundle import BundleError, pack_files, sign_header, split_bundle

ROOT = Path(__file__).resolve().parents[2]
# The maintenance key's revision byte. Only re-provisioning gives a meter a maintenance key,
# so it does not follow the decoder key's revisions (a key change token cannot carry it).
MAINTENANCE_REVISION = 1
APP_IMAGE_MAGIC = 0xE9
_VERSION_LINE = re.compile(r'^VERSION = "([^"]*)"', re.MULTILINE)


class UpdateError(Exception):
    """A bundle cannot be built or the meter refused or lost the update; one line."""


def maintenance_key(vending_key, meter_number):
    """The key the meter checks its bundles with (provisioning gives it to the meter)."""
    return derive_maintenance_key(vending_key, meter_number, MAINTENANCE_REVISION)


def tree_version(root=ROOT):
    """The VERSION in `root`/firmware/version.py."""
    match = _VERSION_LINE.search(Path(root, "firmware", "version.py").read_text())
    if not match:
        raise UpdateError(f"{root}/firmware/version.py has no VERSION line")
    return match.group(1)


def mpy_payload(root, version):
    """The firmware tree under `root` (firmware/ and token_spec/, test vectors left out)
    compiled with mpy-cross, firmware/version.py saying `version`, as a file archive."""
    root = Path(root)
    files = []
    with tempfile.TemporaryDirectory(prefix="prepay-bundle-") as tmp:
        for src in source_files([root / "firmware", root / "token_spec"]):
            rel = src.relative_to(root)
            if rel.as_posix() == "firmware/version.py":
                text = _VERSION_LINE.sub(f'VERSION = "{version}"', src.read_text())
                src = Path(tmp, "version.py")
                src.write_text(text)
            out = Path(tmp, "out", rel.with_suffix(".mpy"))
            try:
                compile_file(src, out)
            except CompileError as exc:
                raise UpdateError(str(exc)) from None
            files.append((rel.with_suffix(".mpy").as_posix(), out.read_bytes()))
    return pack_files(files)


def build_bundle(key, meter_number, version=None, root=ROOT, app_image=None):
    """The bundle bytes for one meter: header line, newline, payload."""
    if app_image is not None:
        payload = Path(app_image).read_bytes() if Path(app_image).is_file() else b""
        if not payload or payload[0] != APP_IMAGE_MAGIC:
            raise UpdateError(f"{app_image}: not an ESP32 app image (.bin starting 0xE9)")
        built_from = tree_version(root)
        if version not in (None, built_from):
            raise UpdateError(
                f"an app image carries the version it was built with ({built_from} in "
                f"{root}/firmware/version.py), not {version}"
            )
        version, kind = built_from, "esp32-app"
    else:
        version = version or tree_version(root)
        kind = "mpy"
    try:
        if kind == "mpy":
            payload = mpy_payload(root, version)
        digest = hashlib.sha256(payload).digest()
        header = sign_header(key, meter_number, version, kind, len(payload), digest)
    except (BundleError, ValueError) as exc:
        raise UpdateError(str(exc)) from None
    return header.encode() + b"\n" + payload


def read_bundle(path):
    """(header, payload) of a bundle file; UpdateError if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise UpdateError(f"{path}: no such bundle file")
    try:
        return split_bundle(path.read_bytes())
    except BundleError as exc:
        raise UpdateError(f"{path}: {exc}") from None


def send_bundle(client, header, payload, progress=None, restart_timeout=60.0):
    """Deliver a bundle to the meter behind `client` (an open DeviceClient) and wait until it
    runs again; returns {"from", "to", "slot", "bytes", "seconds"}.

    UpdateError if the meter refuses (nothing written), loses the connection, or comes back
    on its old version (the new one did not boot and feed its watchdog: rolled back).
    """
    from host_tools.device.client import DeviceError

    progress = progress or (lambda done, total: None)
    start = time.monotonic()
    before = client.hello.get("firmware") if client.hello else None
    try:
        begun = client.request("update.begin", header=header)
        chunk = begun["chunk"]
        for offset in range(0, len(payload), chunk):
            data = binascii.b2a_base64(payload[offset : offset + chunk], newline=False)
            client.request("update.chunk", offset=offset, data=data.decode())
            progress(min(offset + chunk, len(payload)), len(payload))
        client.events_pending()  # what came before the restart
        client.request("update.finish")
        client.wait_event("boot", timeout=restart_timeout)
        after = client.request("hello")
    except DeviceError as exc:
        raise UpdateError(str(exc)) from None
    if after.get("firmware") != begun["version"]:
        raise UpdateError(
            f"the meter restarted on firmware {after.get('firmware')}, not {begun['version']}: "
            "the new version did not start and was rolled back"
        )
    return {
        "from": before,
        "to": after["firmware"],
        "slot": begun["slot"],
        "bytes": len(payload),
        "seconds": time.monotonic() - start,
    }
