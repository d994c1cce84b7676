"""`prepay device deploy` without a board: file selection, the .mpy version check, hash
skipping, stale files, provisioned refusal and --wipe — against an in-memory board and
against the MicroPython unix port's raw REPL through mpremote's real transport."""

import hashlib
import json
import subprocess

import pytest
from click.testing import CliRunner

from host_tools.cli import main
from host_tools.device import deploy as dp
from host_tools.device.board_repl import MpremoteBoard
from tests.device.fake_board import FakeBoard
from tests.device.unix_repl import micropython_repl

# A board running MicroPython 1.29 on an ESP32: .mpy v6.3, arch xtensawin (10).
ESP32_ABI = 6 | 3 << 8 | 10 << 10
OLD_ESP32_ABI = 5 | 10 << 10  # MicroPython 1.19-1.21 era: .mpy v5


def write(root, rel, text):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def repo(tmp_path):
    """A miniature source tree shaped like the real one."""
    root = tmp_path / "repo"
    write(root, "firmware/__init__.py", "")
    write(root, "firmware/main.py", "import firmware.core.meter\nprint('meter up')\n")
    write(root, "firmware/core/__init__.py", "")
    write(root, "firmware/core/meter.py", "CREDIT = 100\n")
    write(root, "firmware/hal/__init__.py", "")
    write(root, "firmware/hal/sim.py", "SIM = 1\n")
    write(root, "firmware/core/tests/test_x.py", "def test(): pass\n")
    write(root, "firmware/boards/devkitc.json", json.dumps({"relay": 26}))
    write(root, "firmware/boards/s3box.json", json.dumps({"relay": 5}))
    write(root, "token_spec/__init__.py", "VERSION = 1\n")
    write(root, "token_spec/vectors/v1.json", "[]")
    return root


def test_file_selection_and_board_layout(repo):
    files = dp.build_files(repo)
    assert sorted(files) == [
        "/firmware/__init__.mpy",
        "/firmware/boards/devkitc.json",
        "/firmware/boards/s3box.json",
        "/firmware/core/__init__.mpy",
        "/firmware/core/meter.mpy",
        "/firmware/hal/__init__.mpy",
        "/lib/umqtt/simple.mpy",  # the MQTT client from PyPI (host_tools/build/mplib.py)
        "/main.py",
        "/token_spec/__init__.mpy",
    ]
    assert files["/lib/umqtt/simple.mpy"][:2] == b"M\x06"
    assert files["/main.py"] == (repo / "firmware/main.py").read_bytes()
    assert files["/firmware/core/meter.mpy"][:2] == b"M\x06"
    assert (
        files["/firmware/boards/s3box.json"] == (repo / "firmware/boards/s3box.json").read_bytes()
    )
    only = dp.build_files(repo, board="devkitc")
    assert [p for p in only if "boards" in p] == ["/firmware/boards/devkitc.json"]
    with pytest.raises(
        dp.DeployError, match="unknown board 'esp99'; board configs: devkitc, s3box"
    ):
        dp.build_files(repo, board="esp99")


def test_syntax_the_board_rejects_stops_the_deploy(repo):
    write(repo, "firmware/core/broken.py", "def f(:\n")
    with pytest.raises(dp.DeployError, match="mpy-cross failed: firmware/core/broken.py"):
        dp.build_files(repo)


def test_mpy_abi_bit_layout():
    assert dp.split_mpy_abi(ESP32_ABI) == (6, 3, 10)
    assert dp.mpy_header(b"M\x06\x00\x1f") == (6, 0, 0, 31)
    with pytest.raises(dp.DeployError, match="not a .mpy file"):
        dp.mpy_header(b"#!/x")


def test_local_interpreter_accepts_what_mpy_cross_produces(repo, micropython_bin):
    # The unix port from the same MicroPython release reports the ABI mpy-cross targets.
    out = subprocess.run(
        [micropython_bin, "-c", "import sys; print(sys.implementation._mpy)"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    compiled = dp.build_files(repo)["/firmware/core/meter.mpy"]
    dp.check_mpy_compatible(int(out.stdout), compiled)
    dp.check_mpy_compatible(ESP32_ABI, compiled)


def test_mpy_version_mismatch_says_how_to_fix(repo):
    compiled = dp.build_files(repo)["/firmware/core/meter.mpy"]
    with pytest.raises(dp.DeployError) as err:
        dp.check_mpy_compatible(OLD_ESP32_ABI, compiled)
    assert "the board loads .mpy v5.0 (xtensawin) but mpy-cross produced v6" in str(err.value)
    assert "mpy-cross" in str(err.value).split("produced")[1]
    # Native code must also match the sub-version and architecture.
    native_v6_2_x64 = b"M\x06" + bytes([2 | 2 << 2, 31])
    with pytest.raises(dp.DeployError, match="v6.3"):
        dp.check_mpy_compatible(ESP32_ABI, native_v6_2_x64)


def test_mismatch_refuses_before_writing(repo):
    board = FakeBoard(mpy_abi=OLD_ESP32_ABI)
    with pytest.raises(dp.DeployError, match="v5"):
        dp.deploy(board, dp.build_files(repo))
    assert board.writes == [] and board.resets == 0


def test_second_deploy_copies_only_what_changed(repo):
    board = FakeBoard(mpy_abi=ESP32_ABI)
    first = dp.deploy(board, dp.build_files(repo))
    assert sorted(first["copied"]) == sorted(dp.build_files(repo))
    assert board.resets == 1
    for path, data in dp.build_files(repo).items():
        assert board.files[path] == data

    board.writes.clear()
    second = dp.deploy(board, dp.build_files(repo))
    assert second["copied"] == [] and board.writes == []
    assert len(second["unchanged"]) == len(first["copied"])

    write(repo, "firmware/core/meter.py", "CREDIT = 200\n")
    third = dp.deploy(board, dp.build_files(repo))
    assert third["copied"] == ["/firmware/core/meter.mpy"]
    assert board.writes == ["/firmware/core/meter.mpy"]


def test_stale_modules_are_removed_but_foreign_files_kept(repo):
    board = FakeBoard(
        mpy_abi=ESP32_ABI,
        files={"/firmware/core/old.py": b"x", "/token_spec/gone.mpy": b"y", "/boot.py": b"z"},
    )
    result = dp.deploy(board, dp.build_files(repo))
    assert result["removed"] == ["/firmware/core/old.py", "/token_spec/gone.mpy"]
    assert board.files["/boot.py"] == b"z"


def test_verification_catches_a_bad_copy(repo):
    board = FakeBoard(mpy_abi=ESP32_ABI, corrupt={"/token_spec/__init__.mpy"})
    with pytest.raises(dp.DeployError, match="verification failed .*/token_spec/__init__.mpy"):
        dp.deploy(board, dp.build_files(repo))
    assert board.resets == 0


def test_provisioned_meter_is_refused_without_wipe(repo):
    board = FakeBoard(mpy_abi=ESP32_ABI)
    hello = {"provisioned": True, "meter_number": "01234567897"}
    with pytest.raises(dp.DeployError, match="01234567897 is provisioned.*--wipe"):
        dp.deploy(board, dp.build_files(repo), hello=hello)
    assert board.writes == []

    # State found on the board's filesystem counts even when the app did not answer.
    stateful = FakeBoard(mpy_abi=ESP32_ABI, state={"/meter/journal.bin"})
    with pytest.raises(dp.DeployError, match=r"holds a meter journal \(/meter/journal.bin\)"):
        dp.deploy(stateful, dp.build_files(repo))
    assert stateful.writes == []
    result = dp.deploy(stateful, dp.build_files(repo), wipe=True)
    assert result["wiped"] == ["/meter/journal.bin"] and not stateful.meter_state()
    assert stateful.resets == 1


def test_unprovisioned_meter_deploys_without_wipe(repo):
    board = FakeBoard(mpy_abi=ESP32_ABI)
    dp.deploy(board, dp.build_files(repo), hello={"provisioned": False})
    assert board.resets == 1


def test_progress_reports_bytes(repo):
    seen = []
    files = dp.build_files(repo)
    dp.deploy(FakeBoard(mpy_abi=None), files, progress=lambda d, t: seen.append((d, t)))
    total = sum(len(v) for v in files.values())
    assert seen[0] == (0, total) and seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_real_transport_against_the_micropython_repl(repo, tmp_path, micropython_bin):
    """mpremote's SerialTransport over a pty to the unix port: hashes, copy, skip, import."""
    board_root = tmp_path / "board"
    board_root.mkdir()
    files = dp.build_files(repo)
    with micropython_repl(micropython_bin) as port:

        def deploy_once(files):
            # A fresh session each time, as `prepay device deploy` does (the reset ends one).
            board = MpremoteBoard.open(port, soft_reset=False, root=str(board_root))
            try:
                assert dp.split_mpy_abi(board.mpy_abi())[0] == 6
                return dp.deploy(board, files)
            finally:
                board.close()

        first = deploy_once(files)
        write(repo, "token_spec/__init__.py", "VERSION = 2\n")
        files = dp.build_files(repo)
        second = deploy_once(files)
    assert len(first["copied"]) == len(files)
    assert second["copied"] == ["/token_spec/__init__.mpy"]
    for path, data in files.items():
        on_disk = (board_root / path.lstrip("/")).read_bytes()
        assert hashlib.sha256(on_disk).digest() == hashlib.sha256(data).digest(), path
    # What was deployed runs: main.py imports the compiled package from the "board".
    ran = subprocess.run(
        [micropython_bin, "main.py"], cwd=board_root, capture_output=True, text=True, timeout=30
    )
    assert ran.stdout.strip() == "meter up", ran.stderr


def test_real_transport_finds_and_wipes_the_journal(repo, tmp_path, micropython_bin):
    board_root = tmp_path / "board"
    board_root.mkdir()
    (board_root / "journal.bin").write_bytes(b"\x00" * 4096)
    (board_root / "board.json").write_text("{}")
    files = dp.build_files(repo)
    with micropython_repl(micropython_bin) as port:
        board = MpremoteBoard.open(port, soft_reset=False, root=str(board_root))
        try:
            with pytest.raises(dp.DeployError, match="holds a meter journal ./journal.bin."):
                dp.deploy(board, files)
            result = dp.deploy(board, files, wipe=True)
        finally:
            board.close()
    assert result["wiped"] == ["/journal.bin"]
    assert not (board_root / "journal.bin").exists()
    assert (board_root / "board.json").read_text() == "{}"


def test_cli_reports_unreachable_port_and_bad_board(tmp_path):
    runner = CliRunner()
    missing = str(tmp_path / "ttyUSB9")
    result = runner.invoke(main, ["device", "deploy", "--port", missing])
    assert result.exit_code == 1 and f"cannot open {missing}" in result.output
    result = runner.invoke(main, ["device", "deploy", "--port", missing, "--board", "nope"])
    assert result.exit_code == 1 and "unknown board 'nope'" in result.output
    assert "Missing option '--port'" in runner.invoke(main, ["device", "deploy"]).output
