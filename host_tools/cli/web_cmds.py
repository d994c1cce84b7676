"""Registers the verbs of the station as a service: `prepay user`, `prepay apikey`, `prepay
serve`, `prepay station upgrade` (one module each: user_cmds, apikey_cmds, serve_cmds,
upgrade_cmds)."""


def register(main):
    from host_tools.cli import apikey_cmds, serve_cmds, upgrade_cmds, user_cmds

    for module in (user_cmds, apikey_cmds, serve_cmds, upgrade_cmds):
        module.register(main)
