"""`python -m host_tools.cli` is the same as the `prepay` command."""

from host_tools.cli import main

main(prog_name="prepay")
