"""The foundation itself: the MicroPython runner, the mpy-cross gate and the CLI entry point."""

import subprocess
import sys

from click.testing import CliRunner

from host_tools import __version__
from host_tools.build import mpy
from host_tools.cli import main
from tests.helpers import ROOT, mp_env

RUNNER = str(ROOT / "tests" / "mp_runner.py")


def _run_mp(micropython_bin, *args, **env):
    return subprocess.run(
        [micropython_bin, RUNNER, *args],
        capture_output=True,
        text=True,
        env=mp_env(**env),
        timeout=120,
    )


def test_runner_runs_shared_tests_under_micropython(micropython_bin):
    target = str(ROOT / "tests" / "shared" / "test_interpreter.py")
    proc = _run_mp(micropython_bin, target, PREPAY_EXPECT_IMPL="micropython")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "implementation: micropython" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "2 passed, 0 failed, 0 skipped"


def test_runner_reports_failures_and_exits_nonzero(micropython_bin, tmp_path):
    (tmp_path / "test_mixed.py").write_text(
        "import support\n"
        "def test_ok():\n    assert 1 + 1 == 2\n"
        "def test_bad():\n    assert 1 == 2, 'one is not two'\n"
        "def test_skipped():\n    support.skip('not here')\n"
        "def helper():\n    raise RuntimeError('not a test')\n"
    )
    proc = _run_mp(micropython_bin, str(tmp_path))
    assert proc.returncode == 1
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == "1 passed, 1 failed, 1 skipped"
    failures = [line for line in lines if line.startswith("FAIL ")]
    assert len(failures) == 1 and "test_bad" in failures[0] and "one is not two" in failures[0]


def test_runner_fails_when_nothing_ran(micropython_bin, tmp_path):
    proc = _run_mp(micropython_bin, str(tmp_path))
    assert proc.returncode == 1
    assert proc.stdout.strip().splitlines()[-1] == "0 passed, 0 failed, 0 skipped"


def test_runner_counts_a_module_that_does_not_import(micropython_bin, tmp_path):
    (tmp_path / "test_broken_import.py").write_text("import no_such_module_here\n")
    proc = _run_mp(micropython_bin, str(tmp_path))
    assert proc.returncode == 1
    assert "(import)" in proc.stdout


# Valid CPython 3.11 that MicroPython cannot compile: the `match` statement. (The example,
# an f-string with `=`, is accepted by MicroPython 1.29's compiler, so it would prove nothing.)
BROKEN = "def f(x):\n    match x:\n        case 1:\n            return 1\n"


def test_mpy_cross_rejects_micropython_only_syntax_errors(tmp_path):
    (tmp_path / "broken.py").write_text(BROKEN)
    compile(BROKEN, "broken.py", "exec")  # valid CPython, so only mpy-cross can catch it
    try:
        mpy.compile_tree([tmp_path], tmp_path / "out")
    except mpy.CompileError as exc:
        assert "broken.py" in str(exc)
    else:
        raise AssertionError("mpy-cross accepted a match statement")


def test_make_compile_fails_on_broken_firmware_module(tmp_path):
    """`make test` runs `make compile`; a module only MicroPython rejects must fail it."""
    fw = tmp_path / "firmware"
    fw.mkdir()
    (fw / "good.py").write_text("x = 1\n")
    (fw / "broken.py").write_text(BROKEN)
    make = ["make", "-s", "-C", str(ROOT), "compile", f"MPY_SRC={fw}"]
    proc = subprocess.run(make, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "broken.py" in proc.stderr
    (fw / "broken.py").unlink()
    proc = subprocess.run(make, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def test_real_sources_compile_with_mpy_cross(tmp_path):
    done = mpy.compile_tree([ROOT / "firmware", ROOT / "token_spec"], tmp_path)
    assert any(src.name == "compat.py" for src, _ in done)
    assert all(out.stat().st_size > 0 for _, out in done)


def test_cli_version_and_help():
    runner = CliRunner()
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_console_script_is_installed():
    proc = subprocess.run(
        [sys.executable, "-m", "host_tools.cli", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and __version__ in proc.stdout
