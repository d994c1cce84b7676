"""Firmware figures under the MicroPython unix port: heap, boot time, loop cost.

Runs the real app (sim HAL, journal file, compiled .mpy like a board) in `micropython` and
prints: heap after imports, after boot and provisioning, the live high-water, boot time
(restore journal + relay + boot event, from a journal whose event ring is full), the cost of
one loop iteration (idle and with pulses) and of one protocol request (status) and one token.
The same run is measured again with the code in a ROMFS image (see ROMFS_PRELUDE). Heap after
imports is also measured for the tree before issue 12 (BASELINE, taken from git) beside this
one, so the smaller import graph shows as a figure. Last, the heap floor of the run on each
interpreter side by side (heap_floors): PyPI's 64-bit one, and the 32-bit ones `make firmware`
builds, without and with the meter frozen in. And the extra heap of networking (net_heap):
the MQTT link's imports on a meter with network settings, on PyPI's 64-bit interpreter and on
the 32-bit frozen build (`make firmware`), which a keypad-only meter never pays.

    .venv/bin/python bench/firmware.py          # everything (minutes: heap floors bisect)
    .venv/bin/python bench/firmware.py --net    # the networking heap alone (seconds)
"""

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The tree before issue 12 (the light token_spec package, firmware importing submodules only).
BASELINE = "053e4d134cdada84aebf3a8d8a9932ec3c1ccc27"

# The app's imports alone: heap and the number of modules they load.
IMPORTS_ONLY = r"""
import gc, sys
gc.collect()
base = gc.mem_alloc()
from firmware.hal import sim
from firmware.app.meter_app import MeterApp
from firmware.app import commands
from firmware.app.runner import Runner
gc.collect()
print(gc.mem_alloc() - base, len(sys.modules))
"""

# The extra heap of networking: what a meter with network settings imports on top of the app
# (firmware/app/meter_app.py start_network -> firmware.net.settings, firmware.net.link; the link
# then imports umqtt.simple and socket to connect, ssl for mqtts://).
NET_IMPORTS = r"""
import gc, sys
gc.collect()
base = gc.mem_alloc()
from firmware.hal import sim
from firmware.app.meter_app import MeterApp
from firmware.app import commands
from firmware.app.runner import Runner
gc.collect()
app = gc.mem_alloc() - base
from firmware.net import settings, link
import umqtt.simple, socket
gc.collect()
net = gc.mem_alloc() - base - app
try:
    import ssl
    gc.collect()
    tls = gc.mem_alloc() - base - app - net
except ImportError:
    tls = -1
print(app, net, tls)
"""

INNER = r"""
import gc, json, os, time
gc.collect()
base = gc.mem_alloc()
t0 = time.ticks_us()
from firmware.hal import sim
from firmware.app.meter_app import MeterApp
from firmware.app import commands
from firmware.app.runner import Runner
gc.collect()
after_imports = gc.mem_alloc() - base
state = STATE
t1 = time.ticks_us()
hal = sim.create({"state_dir": state, "speed_milli": 0, "start": 200000000})
app = MeterApp(hal)
app.boot()
t_boot_empty = time.ticks_diff(time.ticks_us(), t1)
high = [0]
def sample():
    gc.collect()
    used = gc.mem_alloc() - base  # live data after each request / loop batch
    if used > high[0]:
        high[0] = used
def call(obj):
    out = commands.handle_line(app, json.dumps(obj).encode())
    sample()
    return json.loads(out)
r = call({"id": 1, "cmd": "provision", "meter_number": "12345678903",
          "decoder_key": "000102030405060708090a0b0c0d0e0f", "unit": "currency", "scale": 100,
          "pulses_per_kwh": 1000, "tariff": {"type": "flat", "price": 25}})
assert r["ok"], r
for i, tok in enumerate(TOKENS):
    t = time.ticks_us()
    r = call({"id": 10 + i, "cmd": "token", "token": tok})
    assert r["result"]["result"] == "accepted", r
token_us = time.ticks_diff(time.ticks_us(), t)
class NullPort:
    closed = False
    def read(self): return b""
    def write(self, data): pass
runner = Runner(app, NullPort())
N = 200
t = time.ticks_us()
for _ in range(N):
    runner.loop_once()
idle_us = time.ticks_diff(time.ticks_us(), t) // N
t = time.ticks_us()
for _ in range(N):
    hal.inject_pulses(5)
    hal.advance(1)
    runner.loop_once()
busy_us = time.ticks_diff(time.ticks_us(), t) // N
sample()
t = time.ticks_us()
for i in range(N):
    commands.handle_line(app, b'{"id": 5, "cmd": "status"}')
status_us = time.ticks_diff(time.ticks_us(), t) // N
gc.collect()
provisioned = gc.mem_alloc() - base
# 600 tamper events wrap the 512-record event ring: a meter in the field always has a full one.
for i in range(600):
    hal.set_tamper(i % 2 == 0)
    app.step()
    app.store.save(app.meter, hal.now())
    if i % 50 == 0:
        sample()
del app, runner
gc.collect()
# A reboot on the journal just written: the boot a customer waits for after a power cut.
t = time.ticks_us()
app2 = MeterApp(sim.create({"state_dir": state, "speed_milli": 0}))
app2.boot()
boot_us = time.ticks_diff(time.ticks_us(), t)
assert len(app2.meter.events) == 256
sample()
print(json.dumps({"after_imports": after_imports, "provisioned": provisioned,
                  "peak": high[0],
                  "boot_us": boot_us, "first_boot_us": t_boot_empty, "token_us": token_us,
                  "loop_idle_us": idle_us, "loop_pulses_us": busy_us, "status_us": status_us}))
"""


# Prepended to INNER for the ROMFS figures: the compiled tree as a ROMFS image, mounted like a
# board's ROMFS partition, so imports run the bytecode in place instead of copying it into the
# heap. On this port the image itself has to sit in the heap (a board maps it from flash), so
# its size is reported and taken off.
ROMFS_PRELUDE = r"""
import sys, vfs
with open(IMAGE, "rb") as f:
    _image = f.read()
vfs.mount(vfs.VfsRom(_image), "/rom")
sys.path[:0] = ["/rom"]
"""


def _romfs_image(build_dir, out):
    """A ROMFS image of the compiled tree (mpremote's builder, as `mpremote romfs build`)."""
    import contextlib
    import io

    from mpremote.romfs import make_romfs

    with contextlib.redirect_stdout(io.StringIO()):  # it prints the tree it packs
        out.write_bytes(make_romfs(str(build_dir), mpy_cross=False))
    return out.stat().st_size


def _smallest_heap(run, state):
    """The smallest -X heapsize (KiB, 16 KiB steps) in which the whole run succeeds."""
    for kib in range(32, 513, 16):
        _wipe(state)
        if run("-X", "heapsize=%dK" % kib).returncode == 0:
            return kib
    return None


def _compile_tree(root, build):
    from host_tools.build.mpy import compile_file, source_files

    for src in source_files([root / "firmware", root / "token_spec"]):
        compile_file(src, Path(build, src.relative_to(root).with_suffix(".mpy")))


def _imports_heap(build, scripts, root=ROOT):
    """(heap bytes, modules) after the app's imports, for the compiled tree in `build`."""
    from host_tools.sim import find_micropython

    script = Path(scripts, "imports_only.py")
    script.write_text(IMPORTS_ONLY)
    env = {"MICROPYPATH": ".frozen:" + str(build), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [find_micropython(), str(script)], capture_output=True, text=True, env=env, check=True
    )
    heap, modules = proc.stdout.split()
    return int(heap), int(modules)


def _baseline_heap(scripts):
    """Heap after imports of the BASELINE tree, or a sentence saying why it is not there."""
    with tempfile.TemporaryDirectory() as src, tempfile.TemporaryDirectory() as build:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", BASELINE, "firmware", "token_spec"],
            capture_output=True,
        )
        if archive.returncode != 0:
            return "baseline %s not in this checkout's git history" % BASELINE[:7]
        subprocess.run(["tar", "-x", "-C", src], input=archive.stdout, check=True)
        _compile_tree(Path(src), build)
        return _imports_heap(build, scripts)


def net_heap(build, scripts):
    """Lines: the networking imports' heap beside the app's, on each interpreter that has them
    (PyPI's 64-bit one with the compiled tree and umqtt; the 32-bit one with both frozen)."""
    from host_tools.build.interpreter import newer_sources
    from host_tools.build.mplib import ensure
    from host_tools.build.mpy import compile_file
    from host_tools.sim import find_micropython

    lib = ensure()
    for src in lib.rglob("*.py"):
        compile_file(src, Path(build, src.relative_to(lib).with_suffix(".mpy")))
    script = Path(scripts, "net_imports.py")
    script.write_text(NET_IMPORTS)
    lines = ["extra heap of networking (imports, after gc.collect; a keypad-only meter has none):"]
    frozen = ROOT / "build" / "micropython-unix32"
    for label, path, code in (
        ("PyPI 64-bit, .mpy in RAM", find_micropython(), ".frozen:" + str(build)),
        ("32-bit, meter frozen in", frozen, ".frozen"),
    ):
        if not Path(path).exists():
            lines.append("  %-26s missing: %s (`make firmware` builds it)" % (label, path))
            continue
        env = {"MICROPYPATH": code, "PATH": "/usr/bin:/bin"}
        proc = subprocess.run(
            [str(path), str(script)], capture_output=True, text=True, env=env, cwd=scripts
        )
        if proc.returncode != 0:
            lines.append("  %-26s failed: %s" % (label, (proc.stdout + proc.stderr).strip()))
            continue
        app, net, tls = (int(n) for n in proc.stdout.split())
        stale = (
            " (older than the sources: run `make firmware`)"
            if code == ".frozen" and newer_sources(path, [ROOT / "firmware", ROOT / "token_spec"])
            else ""
        )
        tls_text = "no ssl module" if tls < 0 else "+%d with ssl (mqtts://)" % tls
        lines.append(
            "  %-26s app %6d bytes, networking +%d (%.0f%%), %s%s"
            % (label, app, net, 100 * net / app, tls_text, stale)
        )
    return lines


def _wipe(state):
    for f in Path(state).iterdir():
        f.unlink()


# The interpreters heap_floors compares: (label, path, the meter frozen in).
INTERPRETERS = (
    ("PyPI 64-bit, .mpy in RAM", None, False),
    ("32-bit, .mpy in RAM", ROOT / "build" / "micropython-unix32-nofrozen", False),
    ("32-bit, meter frozen in", ROOT / "build" / "micropython-unix32", True),
)


def _floor_kib(run, state, lo=8, hi=1024):
    """The smallest -X heapsize in KiB (1 KiB steps, by bisection) in which the whole run passes.

    Assumes a run that passes in N KiB passes in more; fragmentation can move the floor by a few
    KiB, which is why docs quote a range. None if it fails even in `hi` KiB.
    """

    def passes(kib):
        _wipe(state)
        return run("-X", "heapsize=%dK" % kib).returncode == 0

    if not passes(hi):
        return None
    while hi - lo > 1:  # invariant: lo fails (or is untried below the floor), hi passes
        mid = (lo + hi) // 2
        if passes(mid):
            hi = mid
        else:
            lo = mid
    return hi


# heap_floors splits INNER here: a reboot is a fresh process with a fresh heap, as on a board
# (the sim restarts the interpreter after a power cut), not a second app in the first one's heap.
_REBOOT_AT = "del app, runner"
_REBOOT = r"""
from firmware.hal import sim
from firmware.app.meter_app import MeterApp
app = MeterApp(sim.create({"state_dir": STATE, "speed_milli": 0}))
app.boot()
assert len(app.meter.events) == 256
"""


def heap_floors(script, mpy_dir, state):
    """The heap floor of the whole run on each of INTERPRETERS: lines to print.

    The run is `script` (INNER) up to its reboot, then the reboot on the journal it wrote in a
    new process. Both run as mpy-cross output (`-m`), like the firmware: compiling their source
    would take heap that a meter never needs.
    """
    from host_tools.build.interpreter import newer_sources
    from host_tools.build.mpy import compile_file
    from host_tools.sim import find_micropython

    text = Path(script).read_text()
    first = text.split(_REBOOT_AT)[0]  # the whole text if INNER changed and lost the marker
    phases = Path(mpy_dir, "_bench_floor")
    phases.mkdir(parents=True, exist_ok=True)
    for name, code in (("floor_run", first), ("floor_reboot", _REBOOT)):
        src = phases / (name + ".py")
        src.write_text(code.replace("STATE", repr(str(state))))
        compile_file(src, phases / (name + ".mpy"))
        src.unlink()  # only the compiled module stays on the path

    lines = [
        "heap floor of the whole run (boot, provision, tokens, loops, full event ring; then a "
        "reboot on that journal):"
    ]
    for label, path, frozen in INTERPRETERS:
        path = str(path or find_micropython())
        if not Path(path).exists():
            lines.append("  %-26s missing: %s (`make bench` builds it)" % (label, path))
            continue
        # Frozen: nothing but the image on the module path, so no file shadows it.
        code = ".frozen" if frozen else ".frozen:" + str(mpy_dir)
        env = {"MICROPYPATH": code + ":" + str(phases), "PATH": "/usr/bin:/bin"}

        def run(*args, path=path, env=env):
            # -m puts the working folder first on the path: use one without sources.
            for module in ("floor_run", "floor_reboot"):
                cmd = [path, *args, "-m", module]
                done = subprocess.run(cmd, capture_output=True, text=True, cwd=phases, env=env)
                if done.returncode != 0:
                    break
            return done

        floor = _floor_kib(run, state)
        stale = (
            " (older than the sources: run `make firmware`)"
            if frozen and newer_sources(path, [ROOT / "firmware", ROOT / "token_spec"])
            else ""
        )
        shown = "%4d KiB" % floor if floor else "> 1024 KiB"
        lines.append("  %-26s %s  %s%s" % (label, shown, path, stale))
    return lines


def main():
    if "--net" in sys.argv[1:]:
        with tempfile.TemporaryDirectory() as build, tempfile.TemporaryDirectory() as scripts:
            _compile_tree(ROOT, build)
            print("\n".join(net_heap(build, scripts)))
        return 0
    from host_tools.sim import find_micropython
    from token_spec import encode_token

    key = bytes(range(16))
    tokens = [encode_token(key, "12345678903", 0, 500, 200000000 // 60 + i) for i in range(3)]
    with (
        tempfile.TemporaryDirectory() as build,
        tempfile.TemporaryDirectory() as state,
        tempfile.TemporaryDirectory() as scripts,
    ):
        _compile_tree(ROOT, build)
        imports_now = _imports_heap(build, scripts)
        imports_before = _baseline_heap(scripts)
        image = Path(scripts, "app.romfs")
        image_size = _romfs_image(build, image)
        inner = INNER.replace("STATE", repr(state)).replace("TOKENS", repr(tokens))
        script = Path(scripts, "bench_inner.py")
        script.write_text(inner)
        rom_script = Path(scripts, "bench_romfs.py")
        rom_script.write_text(ROMFS_PRELUDE.replace("IMAGE", repr(str(image))) + inner)

        def runner(path, micropypath):
            env = {"MICROPYPATH": micropypath, "PATH": "/usr/bin:/bin"}

            def run(*args):
                cmd = [find_micropython(), *args, str(path)]
                return subprocess.run(cmd, capture_output=True, text=True, env=env)

            return run

        run = runner(script, ".frozen:" + build)
        run_rom = runner(rom_script, ".frozen")
        smallest = _smallest_heap(run, state)
        smallest_rom = _smallest_heap(run_rom, state)
        _wipe(state)
        proc = run()
        _wipe(state)
        proc_rom = run_rom()
        floors = heap_floors(script, build, state)
        networking = net_heap(build, scripts)
    for p in (proc, proc_rom):
        if p.returncode != 0:
            print(p.stdout + p.stderr)
            return 1
    import json

    r = json.loads(proc.stdout.strip().splitlines()[-1])
    rom = json.loads(proc_rom.stdout.strip().splitlines()[-1])
    print("firmware under micropython (unix port, .mpy as on a board, sim HAL):")
    print("  heap after imports         %7d bytes" % r["after_imports"])
    print(
        "app imports alone (sim HAL, meter_app, commands, runner), this tree vs before issue 12:"
    )
    print("  now                        %7d bytes, %d modules" % imports_now)
    if isinstance(imports_before, str):
        print("  before (%s)           %s" % (BASELINE[:7], imports_before))
    else:
        print("  before (%s)           %7d bytes, %d modules" % ((BASELINE[:7],) + imports_before))
    print("  heap after boot+provision  %7d bytes (after gc.collect)" % r["provisioned"])
    print("  smallest -X heapsize       %7s KiB for boot, provision, tokens, loops" % smallest)
    print(
        "  live heap high-water       %7d bytes (gc.mem_alloc after each request, collected)"
        % r["peak"]
    )
    print("  boot (restore+relay+event) %7.1f ms (event ring full)" % (r["boot_us"] / 1000))
    print("  first boot (blank flash)   %7.1f ms" % (r["first_boot_us"] / 1000))
    print("  loop iteration, idle       %7.1f ms" % (r["loop_idle_us"] / 1000))
    print("  loop iteration, 5 pulses   %7.1f ms" % (r["loop_pulses_us"] / 1000))
    print("  status request             %7.1f ms" % (r["status_us"] / 1000))
    print("  token (accept + journal)   %7.1f ms" % (r["token_us"] / 1000))
    print("same run with the code in a ROMFS image (bytecode executed in place, as from flash):")
    print("  image size                 %7d bytes" % image_size)
    print("  heap after imports         %7d bytes (image not counted)" % rom["after_imports"])
    print("  heap after boot+provision  %7d bytes (image not counted)" % rom["provisioned"])
    if smallest_rom is not None:
        print(
            "  smallest -X heapsize       %7s KiB, of which the image takes %d KiB here "
            "(a board keeps it in flash)" % (smallest_rom, -(-image_size // 1024))
        )
    print("  (this port is 64-bit: pointers and GC blocks are twice the ESP32's)")
    print("\n".join(floors))
    print("\n".join(networking))
    # The time a field update takes over a 115200-baud link (bench/_update.py runs it alone too).
    import _update

    _update.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
