"""Field updates, meter side: a signed bundle arrives over the serial protocol and is written
to the inactive of two app slots (docs/firmware.md, "Field updates"). Loaded only when an
`update.*` command arrives, so it costs the running meter no heap.

receiver.py  checks the header, writes the payload to the HAL's slot, checks its digest
commands.py  the `update.begin|chunk|finish|abort|status` protocol commands
"""
