"""`python -m host_tools.sim --state DIR [--speed X] [--json]`: same as `prepay sim`."""

from host_tools.cli.sim_cmds import sim

if __name__ == "__main__":
    sim(prog_name="python -m host_tools.sim")
