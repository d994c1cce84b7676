"""Answering a `prepay` process's prompts on a real pseudo-terminal (the passphrase, a login),
as a person at the keyboard would."""

import os
import subprocess


def answer_prompts(cmd, env, answers):
    """Run `cmd` with a real pseudo-terminal as its stdin and no controlling terminal (so
    getpass reads the pty), typing each answer after its prompt appears on stderr."""
    import pty
    import select

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    os.close(slave)
    err = b""
    try:
        for answer in answers:
            seen = err.count(b": ")
            while err.count(b": ") == seen:
                ready, _, _ = select.select([proc.stderr], [], [], 60)
                assert ready, f"no prompt: {err!r}"
                chunk = os.read(proc.stderr.fileno(), 4096)
                assert chunk, f"exited before the prompt: {err!r}"
                err += chunk
            os.write(master, answer.encode() + b"\n")
        out, rest = proc.communicate(timeout=60)
    finally:
        os.close(master)
    return proc.returncode, out.decode(), (err + rest).decode()
