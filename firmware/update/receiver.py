"""One update in progress: the verified header, the slot being written, the running digest.

Order of checks (nothing is written before the first three pass):
1. the header's HMAC under the meter's maintenance key, its meter number, a version strictly
   newer than the running one (token_spec.update_bundle.verify_header);
2. the kind and size the HAL's inactive slot can take (hal.update_slot raises otherwise);
3. each chunk at the next offset and within the signed size;
4. at finish, the SHA-256 of everything written against the signed digest: a mismatch discards
   the slot, and only a match lets the HAL switch the boot slot.
The journal is never written by any of this: the app's own commit before the restart is the
same commit the meter makes on every change.
"""

import binascii
import hashlib

from token_spec.update_bundle import BundleError, verify_header


class UpdateRefused(ValueError):
    """The bundle or a chunk is refused; the message says why (no state changed)."""


class Receiver:
    """Writes one verified bundle's payload to a slot."""

    def __init__(self, hal, info, slot):
        self.hal = hal
        self.info = info
        self.slot = slot
        self.size = info["size"]
        self.received = 0
        self._sha = hashlib.sha256()

    def write(self, offset, data):
        """Append `data`, which must start at `offset` == bytes received so far."""
        if offset != self.received:
            raise UpdateRefused("chunk at %d, expected %d" % (offset, self.received))
        if self.received + len(data) > self.size:
            raise UpdateRefused("chunk runs past the signed size of %d bytes" % self.size)
        self._sha.update(data)
        self.slot.write(offset, data)
        self.received += len(data)

    def finish(self):
        """Check the whole payload against its signed digest; commit the slot and make it the
        boot slot. UpdateRefused (slot discarded, boot slot unchanged) otherwise."""
        if self.received != self.size:
            raise UpdateRefused("only %d of %d bytes received" % (self.received, self.size))
        if self._sha.digest() != self.info["sha256"]:
            self.slot.discard()
            raise UpdateRefused("payload does not match its signed digest: discarded")
        try:
            self.slot.commit()
            self.hal.set_boot(self.slot)
        except (OSError, ValueError) as exc:
            self.slot.discard()
            raise UpdateRefused("the new slot cannot boot: %s" % exc) from None

    def discard(self):
        self.slot.discard()


def begin(hal, meter, running_version, header):
    """A Receiver for `header` (a bundle's first line) after every check that needs no
    payload; UpdateRefused saying why, with nothing written."""
    key = meter.settings.get("maintenance_key")
    if key is None:
        raise UpdateRefused(
            "this meter has no maintenance key (provisioned without one): it takes no updates"
        )
    try:
        info = verify_header(binascii.unhexlify(key), meter.meter_number, running_version, header)
    except BundleError as exc:
        raise UpdateRefused(str(exc)) from None
    try:
        slot = hal.update_slot(info["kind"], info["size"])
    except (OSError, ValueError) as exc:
        raise UpdateRefused(str(exc)) from None
    return Receiver(hal, info, slot)
