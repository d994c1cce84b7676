"""Token format v1: the one implementation shared by the meter and the host (see SPEC.md).

Kept empty on purpose: importing any `token_spec.x` runs this file, and on the meter every byte
loaded here stays in the heap. The meter imports the submodules it uses (`import
token_spec.errors as te`, `from token_spec.tid import extend_tid`) and never a name from the
package itself.

The host's names (`token_spec.encode_token`, `from token_spec import TokenError`) live in
token_spec/api.py and are looked up on first use by the module `__getattr__` below (PEP 562;
MicroPython has it too, and asks it before importing a submodule named in `from token_spec
import x`, so a submodule is tried first).
"""


def __getattr__(name):
    try:
        value = __import__("token_spec." + name, None, None, ("_",))
    except ImportError:
        value = getattr(__import__("token_spec.api", None, None, ("_",)), name)
    globals()[name] = value
    return value
