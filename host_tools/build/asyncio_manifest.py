# FROZEN_MANIFEST of the 32-bit interpreter without the meter (micropython-unix32-nofrozen):
# asyncio only, as in the PyPI interpreter, so bench/firmware.py compares like with like.
# ruff: noqa: F821  (include is the manifest API, given by MicroPython's tools)
include("$(MPY_DIR)/extmod/asyncio")
