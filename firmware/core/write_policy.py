"""When the meter's state must be written to the journal (pure; see docs/journal.md).

Three reasons, checked in this order:
- urgent: a token result is about to be reported, the relay or the zone changed, a config blob
  was applied. The app saves *before* it reports or acts, so nothing is acknowledged that a power
  cut could take back.
- energy: `save_wh` Wh or more were consumed since the last save. This bounds what one power
  cut can lose: at most `save_wh` Wh plus what one batch of pulses adds (see `loss_bound_wh`).
- time: `save_s` seconds passed since the last save and energy or credit moved meanwhile
  (slow consumption, standing charges), so flash is never stale for long. A meter whose energy
  and credit stand still never writes.
"""

from token_spec.compat import const

DEFAULT_SAVE_WH = const(50)  # <= 0.1 kWh lost per cut with room for a batch; see bench/wear.py
DEFAULT_SAVE_S = const(900)  # 15 minutes

URGENT = "urgent"
ENERGY = "energy"
TIME = "time"


class WritePolicy:
    """Decides when to save; remembers the energy and time of the last durable save."""

    def __init__(self, save_wh=DEFAULT_SAVE_WH, save_s=DEFAULT_SAVE_S):
        if save_wh < 1 or save_s < 1:
            raise ValueError("save_wh and save_s must be >= 1")
        self.save_wh = save_wh
        self.save_s = save_s
        self.saved_wh = 0
        self.saved_at = 0

    def mark_saved(self, energy_wh, now):
        """Record a durable save (or the state restored at boot): lifetime energy and time."""
        self.saved_wh = energy_wh
        self.saved_at = now

    def reason(self, energy_wh, now, urgent=False, changed=True):
        """Why a save is due now (URGENT, ENERGY or TIME), or None.

        `energy_wh` is the lifetime energy register, `urgent` the meter's flag for token
        results, relay, zone and config changes, `changed` whether energy or credit moved
        since the last save (only the time rule looks at it).
        """
        if urgent:
            return URGENT
        if energy_wh - self.saved_wh >= self.save_wh:
            return ENERGY
        if changed and now - self.saved_at >= self.save_s:
            return TIME
        return None

    def loss_bound_wh(self, batch_wh):
        """Most energy one power cut can lose: one save interval short of a Wh, plus one batch.

        The energy rule fires at the first check where `save_wh` is reached, so the unsaved
        energy never exceeds `save_wh - 1` Wh before the batch that triggers a save; `batch_wh`
        is the most energy one pulse batch (plus the pulses counted during the write) can add.
        """
        return self.save_wh - 1 + batch_wh
