"""How every `prepay` verb prints and fails, in one place.

`--json` prints one JSON document (keys sorted); otherwise the verb's text, or a rich drawing.
The tools' own exceptions become click's one-line `Error: ...` on stderr with exit status 1.
"""

import json
from contextlib import contextmanager

import click

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


def emit(data, as_json, text):
    """`data` as JSON under --json, else `text`: a string, or draw(console, data) for rich."""
    if as_json:
        click.echo(json.dumps(data, sort_keys=True, default=str))
    elif callable(text):
        from rich.console import Console

        text(Console(), data)
    else:
        click.echo(text)


def say(as_json):
    """The verb's progress lines: printed, or silent under --json (stdout is the document)."""
    return (lambda text: None) if as_json else (lambda text: click.echo(text))


@contextmanager
def one_line(*errors):
    """Turn the tools' own errors into click's one-line `Error: ...` and exit status 1."""
    try:
        yield
    except errors as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def progress_bar(description, enabled=True):
    """Yields update(done, total, label=None); the rich bar appears at the first update.

    Lazy so that a refusal before any work prints only its error, not an empty bar.
    """
    state = {}

    def update(done, total, label=None):
        if not enabled:
            return
        if "bar" not in state:
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

            bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn())
            bar.start()
            state["bar"], state["task"] = bar, bar.add_task(description, total=None)
        bar, task = state["bar"], state["task"]
        bar.update(task, completed=done, total=total or None, description=label or description)

    try:
        yield update
    finally:
        if "bar" in state:
            state["bar"].stop()
