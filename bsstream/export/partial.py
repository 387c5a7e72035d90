"""Partial exports: an interrupted or failed run never replaces a complete export.

An ``--output`` file is *complete* when every input it received ended with status 0 (or 10,
a ``--fail-on`` match) and the run reported nothing missing: no Ctrl-C or SIGTERM, no input
that could not be streamed. Only then is the requested ``NAME.EXT`` written. Otherwise what
was received is written, nothing lost, to ``NAME.partial.EXT`` in the same directory
(:func:`partial_path`), the requested name is left exactly as it was (an earlier complete file
stays), and stderr says so. Each format says inside that it is partial:

- ``.jsonl``: the last line is ``{"partial":{"reason":"..."}}``; each input's ``{"end":...}``
  line carries its status;
- ``.json``: ``"partial": true`` and ``"partial_reason"``;
- ``.csv``: the ``partial`` column is ``true`` on every row;
- ``.srt``: a first cue saying so; ``.vtt``: the ``NOTE`` block at the top;
- ``.html``: a banner under the title.

A partial run writes a partial file only when some input began streaming; one where every
input failed before that writes nothing. A later complete run does not remove an older
``NAME.partial.EXT``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol, runtime_checkable

from bsstream.protocol.stream import StreamInfo, StreamOutcome
from bsstream.status import SIGNALLED, ExitStatus

__all__ = [
    "COMPLETE_STATUSES",
    "Completeness",
    "WrittenExport",
    "partial_path",
    "partial_text",
    "status_reason",
]

#: Statuses of an input whose results are all there.
COMPLETE_STATUSES = frozenset({int(ExitStatus.SUCCESS), int(ExitStatus.FAIL_ON_MATCH)})
_MAX_REASONS = 3


def partial_path(path: str | os.PathLike[str]) -> Path:
    """Where a partial export goes: ``out.csv`` -> ``out.partial.csv`` (no extension: ``out.partial``)."""
    target = Path(path)
    return target.with_name(f"{target.stem}.partial{target.suffix}")


def status_reason(status: int, error: str | None = None) -> str:
    """Why a stream with ``status`` is not complete, in a few words."""
    if status == ExitStatus.INTERRUPTED:
        return "interrupted (Ctrl-C)"
    if status == ExitStatus.TERMINATED:
        return "terminated (SIGTERM)"
    return error or f"failed (exit status {int(status)})"


class Completeness:
    """What an export knows about whether it got everything: inputs that began and did not
    end, inputs that ended badly, and what the run said was missing (:meth:`mark`)."""

    def __init__(self) -> None:
        self.begun = False  # some input began: there is something to write
        self._open: dict[str, int] = {}
        self._reasons: list[str] = []

    def begin(self, info: StreamInfo) -> None:
        self.begun = True
        self._open[info.source] = self._open.get(info.source, 0) + 1

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        count = self._open.get(info.source, 0)
        if count > 1:
            self._open[info.source] = count - 1
        else:
            self._open.pop(info.source, None)
        status = int(outcome.status)
        if status in SIGNALLED:  # a signal stops the whole run: said once, without a source
            self.mark(status_reason(status))
        elif status not in COMPLETE_STATUSES:
            why = status_reason(status, outcome.error)
            self.mark(why if why.startswith(f"{info.source}:") else f"{info.source}: {why}")

    def mark(self, reason: str) -> None:
        """Something is missing from this export (one line, e.g. ``interrupted (Ctrl-C)``)."""
        if reason not in self._reasons:
            self._reasons.append(reason)

    @property
    def partial(self) -> bool:
        return bool(self._reasons or self._open)

    @property
    def reason(self) -> str | None:
        """Why the export is partial (None: complete)."""
        reasons = list(self._reasons)
        reasons += [f"{source}: did not finish" for source in self._open]
        if not reasons:
            return None
        shown = "; ".join(reasons[:_MAX_REASONS])
        more = len(reasons) - _MAX_REASONS
        return f"{shown}; and {more} more" if more > 0 else shown


@runtime_checkable
class WrittenExport(Protocol):
    """An export that says where it wrote: ``path`` the file asked for, ``written`` where
    ``close()`` wrote it (its partial name for a partial run; None when not written). One that
    writes several files (subtitles, one per input) also has ``files``: (requested, written)."""

    @property
    def path(self) -> str | os.PathLike[str]: ...

    @property
    def written(self) -> str | os.PathLike[str] | None: ...


_PathPair = tuple[str | os.PathLike[str], str | os.PathLike[str]]


def _written_files(export: WrittenExport) -> list[_PathPair]:
    """(requested, written) for each file of an export: its ``files`` when it writes several
    (subtitles, one per input), else its ``path`` and ``written`` (none when not written)."""
    files = getattr(export, "files", None)
    if isinstance(files, list) and files:
        return files
    return [] if export.written is None else [(export.path, export.written)]


def partial_text(exports: Iterable[WrittenExport]) -> str:
    """``results received so far were written to X.partial.csv (X.csv is written only by a
    complete run)`` for the exports (anything with ``path`` and ``written``) that were written
    under their partial name; "" when none was."""
    pairs = [pair for e in exports for pair in _written_files(e)]
    partial = [(path, written) for path, written in pairs if Path(written) != Path(path)]
    if not partial:
        return ""
    names = ", ".join(str(written) for _, written in partial)
    requested = ", ".join(str(path) for path, _ in partial)
    verb = "is" if len(partial) == 1 else "are"
    why = f"{requested} {verb} written only by a complete run"
    return f"results received so far were written to {names} ({why})"
