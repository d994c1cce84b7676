"""The meter loads only the token_spec modules it uses (issue 12).

token_spec/__init__.py stays empty, the host API lives in token_spec/api.py, and firmware and
token_spec import submodules, never names from the package: otherwise every `import
token_spec.x` on the meter would pull the whole host API into its heap.
"""

import re
import subprocess
import sys

import pytest

from tests.helpers import ROOT, mp_env

APP_IMPORTS = (
    "import sys\n"
    "from firmware.hal import sim\n"
    "from firmware.app import commands, meter_app, runner\n"
    "from firmware.core import meter, tokens\n"
    "print(' '.join(sorted(m for m in sys.modules if m.startswith('token_spec'))))\n"
)
# Host-only: the API namespace, key derivation's HMAC, the config blob (loaded when one arrives).
NOT_ON_THE_METER = {"token_spec.api", "token_spec.hmac_sha256", "token_spec.config_blob"}


def _loaded(cmd, env):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("interpreter", ["cpython", "micropython"])
def test_the_app_and_token_path_load_no_host_only_module(interpreter, micropython_bin):
    if interpreter == "cpython":
        loaded = _loaded([sys.executable, "-c", APP_IMPORTS], mp_env(PYTHONPATH=str(ROOT)))
    else:
        loaded = _loaded(
            [micropython_bin, "-c", APP_IMPORTS], mp_env(MICROPYPATH=str(ROOT) + ":.frozen")
        )
    assert "token_spec.codec" in loaded  # the token path did load
    assert not loaded & NOT_ON_THE_METER


def test_firmware_and_token_spec_never_import_names_from_the_package():
    offenders = []
    for path in sorted((ROOT / "firmware").rglob("*.py")) + sorted(
        (ROOT / "token_spec").glob("*.py")
    ):
        if path.name == "api.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"\s*(from token_spec import |import token_spec\s*$)", line):
                offenders.append("%s:%d: %s" % (path.relative_to(ROOT), number, line.strip()))
    assert not offenders, "import the submodule instead:\n" + "\n".join(offenders)


def test_the_host_api_is_still_reachable_from_the_package():
    import token_spec
    from token_spec import TokenError, encode_token
    from token_spec import errors as errors_module

    assert token_spec.FORMAT_VERSION == 1
    assert TokenError is errors_module.TokenError
    assert len(encode_token(bytes(16), "12345678903", 0, 100, 5)) == 20
    with pytest.raises(AttributeError):
        token_spec.no_such_name  # noqa: B018
