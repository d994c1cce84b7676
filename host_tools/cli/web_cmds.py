"""Registers the verbs of the station as a web app: `prepay user`, `prepay apikey`, `prepay
serve` (one module each: user_cmds, apikey_cmds, serve_cmds)."""


def register(main):
    from host_tools.cli import apikey_cmds, serve_cmds, user_cmds

    for module in (user_cmds, apikey_cmds, serve_cmds):
        module.register(main)
