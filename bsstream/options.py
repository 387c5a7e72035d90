"""Click options that several commands share: one definition per option.

``--subtitle-level`` and ``--subtitle-tasks`` belong to the run commands (``analyze``,
``deepfake``, ``scan``, through ``bsstream.cli.stream_options``) and to ``replay``; both read
them with :func:`bsstream.export.subtitles.subtitle_options`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])

# what .srt/.vtt exports show
SUBTITLE_OPTIONS = [
    click.option(
        "--subtitle-level",
        type=click.Choice(["utterance", "segment"]),
        default="utterance",
        show_default=True,
        help=".srt/.vtt show one level (an input without it: the level it has).",
    ),
    click.option(
        "--subtitle-tasks",
        metavar="TASK[,TASK...]",
        help=".srt/.vtt show these tasks, in this order, or 'all' "
        "[default: deepfake,emotion,gender,age,positivity].",
    ),
]


def subtitle_options(func: F) -> F:
    """Add ``--subtitle-level`` and ``--subtitle-tasks`` to a command."""
    for option in reversed(SUBTITLE_OPTIONS):
        func = option(func)
    return func
