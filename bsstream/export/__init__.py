"""File exports (``--output FILE``, repeatable): every format is a Sink, chosen by extension.

==========  ===================================================================
``.jsonl``  exactly the ``--json`` stream (:mod:`bsstream.export.jsonl`)
``.json``   one document: source, duration, config, results, summary (:mod:`.jsondoc`)
``.csv``    one row per result (:mod:`.csvfile`)
``.srt``    SubRip subtitles: one level, 2 lines of 42 characters, one file per input (:mod:`.subtitles`)
``.vtt``    WebVTT subtitles, the same cues (:mod:`.subtitles`)
``.html``   a self-contained report with a timeline (:mod:`.html`); ``.htm`` too
==========  ===================================================================

Every export is written atomically: to a temporary file in the destination's directory,
moved over the final name when the sink is closed, and only by a complete run: an interrupted
or failed one writes ``NAME.partial.EXT`` instead and leaves the final name as it was
(:mod:`bsstream.export.partial`). Every format says where its results come from (emulated or
not, the source as given). Call :func:`open_exports` before streaming so a bad ``--output``
fails before any audio is sent.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from bsstream.export.csvfile import CsvExport
from bsstream.export.guard import check_writable_dir, output_error
from bsstream.export.html import HtmlExport
from bsstream.export.jsondoc import JsonDocExport
from bsstream.export.jsonl import JsonlExport
from bsstream.export.subtitles import SrtExport, SubtitleOptions, VttExport
from bsstream.protocol.stream import Sink
from bsstream.status import UsageError

WRITERS: dict[str, Callable[[Path], Sink]] = {
    ".jsonl": JsonlExport,
    ".json": JsonDocExport,
    ".csv": CsvExport,
    ".srt": SrtExport,
    ".vtt": VttExport,
    ".html": HtmlExport,
    ".htm": HtmlExport,
}

SUPPORTED = (".jsonl", ".json", ".csv", ".srt", ".vtt", ".html")


def open_export(path: str, subtitles: SubtitleOptions | None = None) -> Sink:
    """The export sink for one ``--output`` path; UsageError for what cannot work.
    ``subtitles``: what ``.srt``/``.vtt`` files show (default :class:`SubtitleOptions`)."""
    target = Path(path)
    suffix = target.suffix.lower()
    writer = WRITERS.get(suffix)
    if writer is None:
        what = f"unknown extension {suffix!r}" if suffix else "no extension"
        raise UsageError(
            f"--output {path}: {what}",
            hint="supported: " + ", ".join(SUPPORTED),
        )
    if target.is_dir():
        raise UsageError(f"--output {path}: is a directory")
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise UsageError(f"--output {path}: directory {directory} does not exist")
    try:
        check_writable_dir(directory)
        if subtitles is not None and suffix in (".srt", ".vtt"):
            return (SrtExport if suffix == ".srt" else VttExport)(target, subtitles)
        return writer(target)
    except OSError as exc:
        raise output_error(target, exc) from None


def open_exports(paths: list[str], subtitles: SubtitleOptions | None = None) -> list[Sink]:
    """One sink per ``--output`` path, in order. Raises UsageError before creating any file
    if a path has an unsupported extension, is a directory, is given twice, or its
    directory does not exist; OutputError (exit 6) if it is not writable."""
    seen: set[str] = set()
    for path in paths:
        key = os.path.realpath(path)
        if key in seen:
            raise UsageError(f"--output {path}: given more than once")
        seen.add(key)
        suffix = Path(path).suffix.lower()
        if suffix not in WRITERS:
            open_export(path)  # raises the UsageError naming the supported extensions
    sinks: list[Sink] = []
    try:
        for path in paths:
            sinks.append(open_export(path, subtitles))
    except BaseException:
        for sink in sinks:
            abort = getattr(sink, "abort", None)
            if abort is not None:
                abort()
        raise
    return sinks


__all__ = [
    "SUPPORTED",
    "CsvExport",
    "HtmlExport",
    "JsonDocExport",
    "JsonlExport",
    "SrtExport",
    "SubtitleOptions",
    "VttExport",
    "open_export",
    "open_exports",
]
