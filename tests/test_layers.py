"""The layer rules of docs/architecture.md, read from every module's imports with `ast`.

Every `import` and `from ... import` counts, at module level or inside a function (lazy imports
included), relative ones resolved. A new import that crosses a layer fails here, in `make test`.
"""

import ast
from pathlib import Path

from tests.helpers import ROOT

PACKAGES = ("firmware", "token_spec", "host_tools")
HOST_TOP = (
    "host_tools.cli",
    "host_tools.provisioning",
    "host_tools.demo",
    "host_tools.demo_online",
)

# (rule, the modules it covers, modules among those it exempts, imports they must not make)
RULES = (
    (
        "firmware/core is pure logic: no hardware, no app, no network",
        ("firmware.core",),
        (),
        ("firmware.hal", "firmware.app", "firmware.net", "machine", "esp32"),
    ),
    (
        "only firmware/hal touches the hardware",
        ("firmware", "token_spec"),
        ("firmware.hal",),
        ("machine", "esp32", "network"),
    ),
    (
        "token_spec is shared by meter and host and depends on neither",
        ("token_spec",),
        (),
        ("firmware", "host_tools"),
    ),
    ("meter code never imports host code", ("firmware",), (), ("host_tools",)),
    (
        "host code never imports firmware internals (the simulator runs it as a process, "
        "build and deploy read it as files)",
        ("host_tools",),
        (),
        ("firmware",),
    ),
    ("vending does not know the device side", ("host_tools.vending",), (), ("host_tools.device",)),
    ("the device side does not know vending", ("host_tools.device",), (), ("host_tools.vending",)),
    (
        "vending writes a sale's message through the outbox only (notify uses vending, not back)",
        ("host_tools.vending",),
        (),
        tuple(
            "host_tools.notify." + name
            for name in ("dispatcher", "channels", "messages", "events", "settings")
        ),
    ),
    (
        "use goes one way: cli, demo and provisioning use vending, device and sim, never back",
        (
            "host_tools.vending",
            "host_tools.device",
            "host_tools.sim",
            "host_tools.build",
            "host_tools.notify",
        ),
        ("host_tools.sim.__main__",),  # `python -m host_tools.sim` is `prepay sim`: a top
        HOST_TOP,
    ),
)


def _within(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def module_imports(name, source, is_package=False):
    """The module names `source` (module `name`) imports anywhere in its body."""
    package = name.split(".") if is_package else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module
            found.add(origin)
            # `from firmware.hal import sim` imports the module firmware.hal.sim too.
            found.update(origin + "." + alias.name for alias in node.names)
    return found


def layer_violations(imports):
    """[(module, imported, rule)] for {module: its imports} against RULES."""
    bad = []
    for module, names in sorted(imports.items()):
        for rule, covers, exempt, forbidden in RULES:
            if not _within(module, covers) or _within(module, exempt):
                continue
            bad += [(module, n, rule) for n in sorted(names) if _within(n, forbidden)]
    return bad


def repo_imports():
    """{module: its imports} for every module of the meter and host packages."""
    imports = {}
    for package in PACKAGES:
        for path in sorted(Path(ROOT, package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if is_package else parts)
            imports[name] = module_imports(name, path.read_text(encoding="utf-8"), is_package)
    return imports


def test_the_tree_keeps_the_layer_rules():
    imports = repo_imports()
    # The reading itself works: it sees the whole tree and the imports known to be there.
    assert len(imports) > 100 and {"firmware.core.meter", "host_tools.cli"} <= imports.keys()
    assert "firmware.core.events" in imports["firmware.core.meter"]
    assert "host_tools.vending.station" in imports["host_tools.provisioning"]  # a lazy one too
    assert "host_tools.device.client" in imports["host_tools.provisioning"]
    assert layer_violations(imports) == []


def test_a_violation_anywhere_in_a_module_is_found():
    core = "import json\n\ndef boot():\n    from firmware.hal import sim\n    import machine\n"
    device = "from ..vending import registry\n"
    spec = "from host_tools.cli import main\n"
    imports = {
        "firmware.core.bad": module_imports("firmware.core.bad", core),
        "host_tools.device.bad": module_imports("host_tools.device.bad", device),
        "token_spec.bad": module_imports("token_spec.bad", spec),
    }
    found = {(module, name) for module, name, _rule in layer_violations(imports)}
    assert found == {
        ("firmware.core.bad", "firmware.hal"),
        ("firmware.core.bad", "firmware.hal.sim"),
        ("firmware.core.bad", "machine"),
        ("host_tools.device.bad", "host_tools.vending"),
        ("host_tools.device.bad", "host_tools.vending.registry"),
        ("token_spec.bad", "host_tools.cli"),
        ("token_spec.bad", "host_tools.cli.main"),
    }


def test_exempt_modules_and_allowed_directions_pass():
    allowed = {
        "firmware.hal.esp32": module_imports("firmware.hal.esp32", "import machine, esp32\n"),
        "firmware.app.runner": module_imports("firmware.app.runner", "from ..hal import sim\n"),
        "host_tools.provisioning": module_imports(
            "host_tools.provisioning", "from host_tools.vending import registry\n"
        ),
        "host_tools.cli": module_imports(
            "host_tools.cli", "from . import device_cmds\n", is_package=True
        ),
    }
    assert allowed["firmware.app.runner"] == {"firmware.hal", "firmware.hal.sim"}
    assert allowed["host_tools.cli"] == {"host_tools.cli", "host_tools.cli.device_cmds"}
    assert layer_violations(allowed) == []
