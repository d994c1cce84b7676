"""The `prepay` command line: one click group, one module of verbs per concern.

token_cmds    prepay token encode|decode            (engineers, test benches)
station_cmds  prepay station|meter|tariff|vend|...  (vending station, back office)
device_cmds   prepay device ...                     (talk to a meter over serial)
sim_cmds      prepay sim                            (the simulated meter)
bench_cmds    prepay device flash|deploy|provision|monitor, prepay hil, prepay demo
update_cmds   prepay device bundle|update               (signed field updates)
"""

import click

from host_tools import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="prepay")
def main():
    """prepay — open prepaid electricity metering: vend tokens, run and test meters."""


def _register():
    # Imported here so each module can attach its verbs to `main` (or to a group defined in an
    # earlier module) without circular imports.
    from host_tools.cli import (
        bench_cmds,
        device_cmds,
        sim_cmds,
        station_cmds,
        token_cmds,
        update_cmds,
    )

    for module in (token_cmds, station_cmds, device_cmds, sim_cmds, bench_cmds, update_cmds):
        module.register(main)


_register()
