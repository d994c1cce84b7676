"""`prepay` verbs for the station concern (see host_tools/cli/__init__.py)."""


def register(main):
    """Attach this module's commands to the top-level group."""
