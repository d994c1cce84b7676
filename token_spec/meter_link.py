"""What host tools and the meter firmware agree on about reaching a meter, defined once.

The firmware side (`firmware/app/protocol.py`, `firmware/hal/sim.py`) and the host side
(`host_tools/device/client.py`, `host_tools/sim/supervisor.py`) both import these names; host
code never imports firmware internals (docs/architecture.md).

Serial protocol (docs/firmware.md): JSON lines of at most MAX_LINE bytes, newline included,
both ways.

Simulator (`prepay sim` runs the firmware with the sim HAL as a child process): after a
simulated power cut the firmware exits with POWER_CUT_EXIT and the supervisor restarts it on the
same state folder; the firmware writes its watchdog feed count to WATCHDOG_FILE in that folder
and the supervisor resets a firmware whose count stops changing for the watchdog timeout
(WATCHDOG_MS by default, the boards' own default, firmware/boards/*.json).
"""

from token_spec.compat import const

MAX_LINE = const(1024)

POWER_CUT_EXIT = const(75)
WATCHDOG_FILE = "watchdog"
WATCHDOG_MS = const(8000)
