"""Host-side tools for prepay: vending station, device tools, simulator and the `prepay` CLI."""

__version__ = "0.1.0"
