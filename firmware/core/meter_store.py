"""The meter's durable state on the journal: provisioning, restore at boot, saves per policy.

The layer above the record format (journal.py): it knows the Meter, its settings and config and
the write policy; journal.py knows only records, rings and commits (docs/journal.md).
"""

from binascii import hexlify

from firmware.core.events import pack_event, unpack_event
from firmware.core.journal import BLANK, CORRUPT, DEFAULT_EVENT_BLOCKS, Journal

DAMAGED_MESSAGE = (
    "the journal holds a meter whose settings record is damaged: not provisioning over its"
    " credit and token memory; an engineer must wipe it (prepay device deploy --wipe)"
)


class MeterStore:
    """The meter's one durable-state layer: provisioning, restore at boot, saves per policy.

    What goes where in the journal:
      config ring   one JSON record {"settings": provisioning settings without their config
                    (decoder key as hex), "config": the effective config}; rewritten when the
                    meter is provisioned or its config changes
      registers     Meter.snapshot() (it also holds the current decoder key after a key change)
      events        every event not yet committed, as 16-byte records; beside them the
                    upload cursor of a networked meter (`save_cursor`, firmware/net/link.py)
    A journal without a committed register record is unprovisioned (a settings record alone
    is a provisioning cut short). A committed register record whose settings record is lost
    is `damaged`: that can only be corruption (the settings record is written first), and the
    registers still hold credit, TID memory and key, so the store refuses to provision over
    them; only an engineer's wipe (`prepay device deploy --wipe`) recovers such a meter.

    The app calls `boot(now)` once; on a restored meter it then calls `meter.boot(now,
    store.status)` and `save`. An unprovisioned meter becomes one through `provision`. After
    that, `save(meter, now)` before a result must be durable, `maybe_save(meter, now)` after
    every pulse batch, tick and customer request (the core sets `meter.urgent` for every change
    a power cut must not undo; anything else waits for the write policy).
    """

    def __init__(self, dev, policy=None, event_blocks=DEFAULT_EVENT_BLOCKS, **layout):
        if policy is None:
            from firmware.core.write_policy import WritePolicy

            policy = WritePolicy()
        self.journal = Journal(dev, event_blocks, **layout)
        self.policy = policy
        self.status = None  # RESTORED, BLANK or CORRUPT after `boot`
        self.damaged = False  # registers committed but their settings record lost: see above
        self._saved = None  # the snapshot on flash, to skip writes that would change nothing
        self._config_version = None  # meter.config_version of the stored settings record
        self._saved_credit = 0

    def boot(self, now, meter_class=None):
        """The meter as last committed, or None if there is none to run; `status` tells how
        the journal came up (RESTORED, BLANK or CORRUPT), `damaged` whether None means a meter
        whose settings record is lost (not provisionable) rather than an unprovisioned one."""
        j = self.journal
        self.status = j.boot()
        self._saved = j.registers
        self._config_version = None
        # The register record is the commit point: a settings record without one never became
        # durable (a cut during provisioning), so the meter is still unprovisioned. Registers
        # without their settings record cannot come from a cut (settings are written first).
        self.damaged = j.registers is not None and j.config is None
        if j.registers is None or j.config is None:
            return None
        import json

        if meter_class is None:
            from firmware.core.meter import Meter as meter_class
        record = json.loads(bytes(j.config))
        config = json.dumps(record["config"]).encode()
        meter = meter_class.restore(record["settings"], j.registers, config)
        ring = meter.events
        stored = (unpack_event(record) for record in j.iter_events(ring.capacity))
        ring.load(stored, max(ring.next_seq, j.event_seq + 1))
        self._config_version = meter.config_version
        self._mark_saved(meter, now)
        return meter

    def provision(self, settings, now, meter_class=None):
        """Create the meter from provisioning settings, log its boot and commit it.

        The BOOT event says CORRUPT when the journal came up corrupt (the log keeps why the meter
        had to be provisioned again: garbage, or a cut that tore the first commit), else BLANK.

        Raises ConfigError (a ValueError) for unusable settings or a `damaged` journal;
        nothing is written then. A cut before the commit ends leaves the journal
        unprovisioned."""
        if self.damaged:
            from firmware.core.config import ConfigError

            raise ConfigError(DAMAGED_MESSAGE)
        if meter_class is None:
            from firmware.core.meter import Meter as meter_class
        meter = meter_class(settings, now)
        meter.boot(now, CORRUPT if self.status == CORRUPT else BLANK)
        if self.status == CORRUPT and self.journal.upload_cursor() is not None:
            # A cursor left by the meter that was here before: the new one's events start at 1
            # and none of them has been sent (written before the commit: a cut leaves it
            # unprovisioned with a cursor of 0).
            self.journal.save_cursor(0)
        self._config_version = None  # the settings record goes with the first commit
        self.save(meter, now)
        return meter

    def save(self, meter, now):
        """Make the meter's registers, new events and changed config durable; True if written.

        Returns after the commit is on flash, so the caller may then report the result.
        """
        meter.saved(now)  # clears `urgent`; taken before the snapshot so it is part of it
        snapshot = meter.snapshot()
        new = meter.events.since(self.journal.event_seq)
        config = None
        if meter.config_version != self._config_version:
            config = _settings_record(meter)
        if snapshot != self._saved or new or config is not None:
            records = [(event[0], pack_event(event)) for event in new]
            self.journal.commit(snapshot, records, config)
            self._saved = snapshot
            self._config_version = meter.config_version
            written = True
        else:
            written = False  # flash already holds exactly this state: it is durable
        self._mark_saved(meter, now)
        return written

    def maybe_save(self, meter, now):
        """Save if the write policy says so; True if written.

        The time rule counts moved energy, credit or unsaved events (a result that changed no
        register still gets its event on flash within `save_s`); an unchanged meter never
        writes, so a flood of such results over the serial line cannot wear the flash out.
        """
        changed = (
            meter.energy_wh != self.policy.saved_wh
            or meter.credit != self._saved_credit
            or meter.events.next_seq - 1 != self.journal.event_seq
        )
        if self.policy.reason(meter.energy_wh, now, meter.urgent, changed) is None:
            return False
        return self.save(meter, now)

    def upload_cursor(self):
        """The newest event seq the head-end acknowledged, as last kept, or None if the journal
        holds no cursor (a meter that never had an ack, or one from before the cursor lived in
        the journal)."""
        return self.journal.upload_cursor()

    def save_cursor(self, seq):
        """Keep the upload cursor (one small record, power-safe on its own; no commit)."""
        self.journal.save_cursor(seq)

    def _mark_saved(self, meter, now):
        self.policy.mark_saved(meter.energy_wh, now)
        self._saved_credit = meter.credit


def _settings_record(meter):
    """The config record: provisioning settings (decoder key as hex, their config left out:
    the effective config is kept beside them) and the effective config, as JSON bytes."""
    import json

    settings = dict(meter.settings)
    settings["decoder_key"] = hexlify(settings["decoder_key"]).decode()
    settings.pop("config", None)
    return json.dumps({"settings": settings, "config": meter.config.source}).encode()
