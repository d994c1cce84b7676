"""The `prepay` command line: one click group, one module per command group.

token_cmds    prepay token ...            encode|decode, and the station's management tokens
station_cmds  prepay station ...          init, cashiers
tariff_cmds   prepay tariff ...           the station's tariffs
meter_cmds    prepay meter ...            the station's meter registry
vend_cmds     prepay vend|reprint|reverse sales and receipts
config_cmds   prepay config sign          signed config blobs
report_cmds   prepay report day           the batch close
audit_cmds    prepay audit verify         the ledger's hash chain
device_cmds   prepay device ...           one meter over serial: protocol, flash, deploy,
                                          provision, monitor
sim_cmds      prepay sim                  the simulated meter
hil_cmds      prepay hil                  the hardware-in-the-loop suite
demo_cmds     prepay demo                 what `make demo` runs
sts_cmds      prepay sts ...              STS-compatible tokens: encode|decode|key|keychange
user_cmds     prepay user ...             the station's users (cashier, supervisor, admin)
apikey_cmds   prepay apikey ...           API keys of the payment channels
serve_cmds    prepay serve                the station as a web app and HTTP API
customer_cmds prepay customer ...         a meter's customer: contact, language, opt-in
notify_cmds   prepay notify ...           customer messages: dispatcher, parked, settings
headend_cmds  prepay headend [deliveries]  the MQTT head-end (with the dispatcher); remote
                                          top-ups and what became of them

Shared by the verbs: output.py (--json, printing, one-line errors, progress bars) and
station_access.py (--home, opening the station). Each module's `register(main)` attaches its
own group and nothing else, so the order below does not matter.
"""

import click

from host_tools import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="prepay")
def main():
    """prepay — open prepaid electricity metering: vend tokens, run and test meters."""


# One module per command group, each attaching only its own group (see the list above).
_GROUP_MODULES = (
    "token_cmds",
    "station_cmds",
    "tariff_cmds",
    "meter_cmds",
    "vend_cmds",
    "config_cmds",
    "report_cmds",
    "audit_cmds",
    "device_cmds",
    "sim_cmds",
    "hil_cmds",
    "demo_cmds",
    "sts_cmds",
    "user_cmds",
    "apikey_cmds",
    "serve_cmds",
    "customer_cmds",
    "notify_cmds",
    "headend_cmds",
)


def _register():
    import importlib

    for name in _GROUP_MODULES:
        importlib.import_module("host_tools.cli." + name).register(main)


_register()
