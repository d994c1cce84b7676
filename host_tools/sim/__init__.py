"""The simulated meter: the real firmware on the MicroPython unix port behind a pty.

    from host_tools.sim import SimMeter
    with SimMeter(state_dir, speed=0) as sim:      # starts `python -m host_tools.sim`
        client = DeviceClient(sim.port)             # talk to it like to a board

`prepay sim` (host_tools/cli/sim_cmds.py) runs the same supervisor in the foreground.
"""

from host_tools.sim.meter import SimMeter
from host_tools.sim.supervisor import SimError, find_micropython

__all__ = ["SimMeter", "SimError", "find_micropython"]
