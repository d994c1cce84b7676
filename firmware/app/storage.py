"""The meter's durable state on the journal: provisioning settings, registers, events.

The journal (firmware/core/journal.py, docs/journal.md) keeps three things; this module decides
what goes where:
  config ring    one JSON record: {"settings": provisioning settings (decoder key as hex),
                 "config": the effective config (Meter.snapshot_config)}; rewritten only when
                 the meter is provisioned or its config changes
  registers      Meter.snapshot() (which also holds the current decoder key after a key change)
  events         every event not yet committed, as 16-byte records
A meter whose journal has no settings record is unprovisioned.
"""

import json

from firmware.core import events as ev
from firmware.core.journal import Journal
from firmware.core.meter import Meter


class Storage:
    """Loads the meter at boot and commits its state."""

    def __init__(self, dev):
        self.journal = Journal(dev)
        self.boot_status = None
        self._config_version = None  # meter.config_version at the last settings write

    def load(self, now):
        """The meter restored from the newest committed state, or None if unprovisioned."""
        j = self.journal
        self.boot_status = j.boot()
        # The register record is the commit point: a settings record without one never
        # became durable (a cut during provisioning), so the meter is still unprovisioned.
        if j.config is None or j.registers is None:
            return None
        record = json.loads(bytes(j.config))
        settings = record["settings"]
        meter = Meter.restore(settings, j.registers, json.dumps(record["config"]).encode())
        meter.events.load([ev.unpack_event(r) for r in j.events], meter.events.next_seq)
        self._config_version = meter.config_version
        return meter

    def commit(self, meter, now):
        """Make the meter's registers, new events and (if changed) config durable."""
        config = None
        if meter.config_version != self._config_version:  # also a new meter: None != 0
            record = {
                "settings": settings_record(meter.settings),
                "config": json.loads(meter.snapshot_config()),
            }
            config = json.dumps(record).encode()
        committed = self.journal.event_seq
        events = [(e[0], ev.pack_event(e)) for e in meter.events.since(committed)]
        self.journal.commit(meter.snapshot(), events, config)
        self._config_version = meter.config_version
        meter.saved(now)


def _hex(data):
    return "".join("%02x" % b for b in data)


def settings_record(settings):
    """Provisioning settings as stored (decoder key as hex, no config: it is kept beside)."""
    s = dict(settings)
    s["decoder_key"] = _hex(s["decoder_key"])
    s.pop("config", None)
    return s
