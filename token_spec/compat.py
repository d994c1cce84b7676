"""The one place where token_spec and firmware code bridge CPython and MicroPython.

`const` is MicroPython's compile-time constant marker. mpy-cross folds `_X = const(1)` into
the bytecode whichever module the name came from; on CPython it is the identity function.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):
        return value


try:
    import sys

    IS_MICROPYTHON = sys.implementation.name == "micropython"
except AttributeError:  # pragma: no cover
    IS_MICROPYTHON = False

__all__ = ["const", "IS_MICROPYTHON"]
