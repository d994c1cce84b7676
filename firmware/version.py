"""The firmware's version, reported by the `hello` command (bump with every release)."""

VERSION = "0.1.0"
# Serial protocol revision (docs/firmware.md); a client refuses a meter it does not understand.
PROTOCOL = 1
