"""``--output-dir DIR`` and ``--skip-done``: one JSON-lines file per input, written atomically.

File names (:func:`output_path`): the input's path relative to its root, mirrored under DIR,
with ``.jsonl`` appended to the full file name (``calls/a.wav`` under root ``calls`` ->
``DIR/a.wav.jsonl``; ``calls/2024/b.mp3`` -> ``DIR/2024/b.mp3.jsonl``). A plain relative file
spec without ``..`` is mirrored as given (``x/c.wav`` -> ``DIR/x/c.wav.jsonl``); an absolute one
or one with ``..`` keeps only its file name. stdin is ``DIR/stdin.jsonl``. When two inputs still
land on the same name (the same relative path under two roots; compared case-insensitively,
for macOS and Windows file systems) the later one gets ``-2``, ``-3``, ... before ``.jsonl``.
Keeping the extension in the name means files of one root never collide, so names stay the
same from run to run (what ``--skip-done`` relies on).

File contents: exactly the ``--json`` stream of that input (its ``stream`` line, result
messages, events, the stats line when ``--stats``, its ``end`` line; the format is
:mod:`bsstream.protocol.jsonlines`'s), then ONE final completion marker line::

    {"complete":true,"source":"calls/a.wav","status":0,"results":42,"bsstream":"0.1.0"}

- ``complete`` is always ``true`` (its presence is what marks the line);
- ``source`` the input as streamed (``stdin`` for ``-``);
- ``status`` the input's exit status: 0, or 10 when a ``--fail-on`` rule matched;
- ``results`` the number of results in the file's result messages;
- ``bsstream`` the version that wrote it.

The lines go to a hidden temporary file in the same directory
(``.NAME.<pid>.<host>.<random>.tmp``, see :mod:`bsstream.export.atomic`); only when the stream
succeeded (status 0 or 10) is the marker appended and the file moved into place with
:func:`os.replace`. A failed or interrupted stream leaves no file under the final name (its
temporary file is removed), so :func:`is_done` — the final file exists AND its last line is a
valid marker — is true only for complete outputs. A file that cannot be written (read-only,
full disk, permission denied) is that input's output error (exit 6); the batch goes on. The
temporaries a killed run left behind are removed at the start of the next run. Readers of
these files (replay) must skip the marker line: :func:`is_marker` recognises it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from bsstream.batch.failon import FailOn, apply_matches, message_matches
from bsstream.batch.inputs import Input
from bsstream.export.atomic import AtomicFile
from bsstream.export.guard import check_writable_dir
from bsstream.protocol.jsonlines import MARKER_KEY, JsonLinesWriter, is_marker, marker_line
from bsstream.protocol.jsontypes import JsonObject
from bsstream.protocol.results import ResultMessage
from bsstream.protocol.stream import StreamInfo, StreamOutcome
from bsstream.status import ExitStatus

__all__ = [
    "MARKER_KEY",
    "OutputDirSink",
    "is_done",
    "is_marker",
    "marker",
    "output_path",
    "prepare_output",
    "read_marker",
]

SUFFIX = ".jsonl"
STDIN_NAME = "stdin"
_COMPLETE_STATUSES = (int(ExitStatus.SUCCESS), int(ExitStatus.FAIL_ON_MATCH))
_TAIL_BYTES = 64 * 1024


def _relative_name(inp: Input) -> PurePosixPath:
    """The input's mirrored relative path (without the .jsonl suffix)."""
    if inp.path is None:
        if inp.is_stdin:
            return PurePosixPath(STDIN_NAME)
        # a URL or a capture device: its last path part (never the query string)
        tail = inp.spec.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        tail = tail.replace(":", "_").replace("\\", "_")
        return PurePosixPath(tail if tail not in ("", ".", "..") else "input")
    if inp.root is not None:
        try:
            rel = PurePosixPath(inp.path.relative_to(inp.root).as_posix())
            if rel.parts and ".." not in rel.parts:
                return rel
        except ValueError:
            pass
        return PurePosixPath(inp.path.name or "input")
    spec = PurePosixPath(Path(inp.spec).as_posix())
    if spec.is_absolute() or ".." in spec.parts or not spec.parts or Path(inp.spec).anchor:
        return PurePosixPath(inp.path.name or "input")
    return spec


def output_path(out_dir: Path, inp: Input, taken: set[str]) -> Path:
    """Where the JSON lines of ``inp`` go under ``out_dir`` (naming rules in the module docstring).

    ``taken`` holds the names already given in this run (case-folded relative POSIX paths);
    the chosen one is added to it. Call it for the inputs in their (stable) order.
    """
    rel = _relative_name(inp)
    base = rel.name
    candidate = rel.with_name(base + SUFFIX)
    n = 2
    while candidate.as_posix().casefold() in taken:
        candidate = rel.with_name(f"{base}-{n}{SUFFIX}")
        n += 1
    taken.add(candidate.as_posix().casefold())
    return out_dir.joinpath(*candidate.parts)


def marker(source: str, status: int, results: int) -> JsonObject:
    """The completion marker record (see the module docstring)."""
    return marker_line(source, status, results)


def read_marker(path: str | os.PathLike[str]) -> JsonObject | None:
    """The completion marker of a finished output file, or None (missing file, unreadable, or
    its last line is not a marker: a half-written or foreign file)."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            start = max(0, size - _TAIL_BYTES)
            f.seek(start)
            tail = f.read()
    except OSError:
        return None
    if not tail.endswith(b"\n"):
        return None  # the marker is written with its newline; anything else was cut short
    body = tail[:-1]
    cut = body.rfind(b"\n")
    if cut < 0 and start > 0:
        return None  # the last line is longer than the tail we read: not a marker
    line = body[cut + 1 :]
    try:
        data = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return data if is_marker(data) else None


def is_done(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a complete output: it exists and ends with a completion marker."""
    return read_marker(path) is not None


def prepare_output(path: str | os.PathLike[str]) -> None:
    """Before an input streams: create ``path``'s directory and check that a file can be
    created in it, so a read-only or forbidden ``--output-dir`` fails at once (an OSError with
    EROFS or EACCES) instead of after the whole input was streamed. A full disk shows only
    when writing (the run's guard turns it into that input's output error)."""
    parent = Path(path).parent
    parent.mkdir(parents=True, exist_ok=True)
    check_writable_dir(parent)


class OutputDirSink:
    """A Sink writing ONE input's ``--json`` stream to ``path`` atomically, with the marker.

    ``begin`` opens a temporary file next to ``path`` (creating the directories); lines are
    written as they arrive; ``end`` commits (marker + rename) when the outcome's status is 0 or
    10 and discards otherwise; ``close`` (or :meth:`abort`) discards a stream that never ended,
    e.g. after an interrupt. One instance per input; reusable for a later input after ``end``.

    With ``rules`` (``--fail-on``) the marker's status is 10 when a rule matched one of the
    results this sink wrote (checked here, by :func:`~bsstream.batch.failon.message_matches`).
    """

    def __init__(self, path: str | os.PathLike[str], *, rules: Sequence[FailOn] = ()) -> None:
        self.path = Path(path)
        self.rules = list(rules)
        self._matched = False
        self._file: AtomicFile | None = None
        self._results = 0
        self.committed = False
        self._writer = JsonLinesWriter(self._write)

    def _write(self, line: str) -> None:
        if self._file is not None:
            self._file.write_text(line + "\n")

    def begin(self, info: StreamInfo) -> None:
        if self._file is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = AtomicFile(self.path)
        self._results = 0
        self._matched = False
        self.committed = False
        self._writer.begin(info)

    def message(self, message: ResultMessage) -> None:
        if self._file is None:
            return
        self._results += len(message.results)
        if self.rules and not self._matched:
            self._matched = bool(message_matches(self.rules, message))
        self._writer.message(message)

    def event(self, event: JsonObject) -> None:
        self._writer.event(event)

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        if self._file is None:
            return
        if int(outcome.status) not in _COMPLETE_STATUSES:
            self.abort()
            return
        status = apply_matches(outcome.status, self._matched)
        self._writer.end(info, outcome)  # the stats line (--stats) and the end line
        self._writer.line(marker(info.source, status, self._results))
        file, self._file = self._file, None
        file.commit()
        self.committed = True

    def abort(self) -> None:
        """Drop the temporary file; nothing appears under the final name."""
        file, self._file = self._file, None
        if file is not None:
            file.discard()

    def close(self) -> None:
        self.abort()
