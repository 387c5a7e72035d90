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

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bsstream.export.guard import check_writable_dir, output_error
from bsstream.protocol.stream import Sink
from bsstream.status import UsageError

if TYPE_CHECKING:
    from bsstream.export.subtitles import SubtitleOptions

# extension -> (module, class). The writers are imported when a file of theirs is opened (or a
# name below is asked for): a run without --output, and every submodule import of this package
# (guard, atomic, partial), then starts without them (~13 ms and ~3 MiB).
_WRITER_NAMES: dict[str, tuple[str, str]] = {
    ".jsonl": ("jsonl", "JsonlExport"),
    ".json": ("jsondoc", "JsonDocExport"),
    ".csv": ("csvfile", "CsvExport"),
    ".srt": ("subtitles", "SrtExport"),
    ".vtt": ("subtitles", "VttExport"),
    ".html": ("html", "HtmlExport"),
    ".htm": ("html", "HtmlExport"),
}
_CLASSES = {name: module for module, name in _WRITER_NAMES.values()} | {"SubtitleOptions": "subtitles"}

SUPPORTED = (".jsonl", ".json", ".csv", ".srt", ".vtt", ".html")


def _class(name: str) -> Callable[..., Sink]:
    """An exporter class (or SubtitleOptions) by name, its module imported now."""
    found: Callable[..., Sink] = getattr(importlib.import_module(f"bsstream.export.{_CLASSES[name]}"), name)
    return found


def _writer(suffix: str) -> Callable[..., Sink] | None:
    known = _WRITER_NAMES.get(suffix)
    return None if known is None else _class(known[1])


def __getattr__(name: str) -> object:
    """The exporter classes (``from bsstream.export import CsvExport``) and ``WRITERS``,
    imported on first use."""
    if name in _CLASSES:
        return _class(name)
    if name == "WRITERS":
        return {suffix: _class(cls) for suffix, (_, cls) in _WRITER_NAMES.items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_export(path: str, subtitles: SubtitleOptions | None = None) -> Sink:
    """The export sink for one ``--output`` path; UsageError for what cannot work.
    ``subtitles``: what ``.srt``/``.vtt`` files show (default :class:`SubtitleOptions`)."""
    target = Path(path)
    suffix = target.suffix.lower()
    writer = _writer(suffix)
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
            return writer(target, subtitles)  # SrtExport / VttExport
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
        if suffix not in _WRITER_NAMES:
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
