"""``.csv`` export: one row per result (RFC 4180 via the csv module, UTF-8 without BOM, CRLF).

Header: ``source,level,start,end,task,final_label,posterior,predictions,embedding,emulated,partial``

- ``source``: the input as given (a relative path stays relative);
- ``channel``, ``channel_name``: only with ``--channels split`` (when any result of the file
  carries a channel), right after ``source``: the result's channel, 0-based, and its
  ``--channel-names`` name (empty when none was given). A mixed run's file has neither
  column, so its header is the same as before split existed;
- ``level``: ``segment``/``utterance``, empty when the result carried none;
- ``start``/``end``: the times exactly as the service sent them (strings, maybe unparseable);
- ``posterior``: the final label's posterior as sent (first prediction with that label),
  empty when absent;
- ``predictions``: every prediction as a compact JSON array, in the order sent, e.g.
  ``[{"label":"male","posterior":"0.91"},{"label":"female","posterior":"0.09"}]``
  (keys ``label``, and ``posterior``/``logit`` when the service set them). JSON keeps
  labels with ``|``, ``:``, commas or quotes unambiguous; the csv module quotes the cell;
- ``embedding``: the feature embedding exactly as sent (with ``--embeddings``), else empty;
- ``emulated``: ``true`` when the row's results came from the local emulator, not the vendor's
  models, else ``false``;
- ``partial``: ``true`` on every row of a partial file (``NAME.partial.csv``: the run was
  interrupted or an input failed, see :mod:`bsstream.export.partial`), else ``false``.

A result with no final label, no prediction and no embedding (the ``features`` task without
``--embeddings``) gets no row. Several inputs: their rows follow one another in stream order;
the ``source`` column tells them apart.

**Safe for spreadsheets** (OWASP's rule against formula injection): a cell beginning with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written with a single quote in front
(``=HYPERLINK(...)`` -> ``'=HYPERLINK(...)``), so a spreadsheet shows it as text instead of
running it; a cell that is a plain decimal number (``0.91``, ``-2.31``, ``1e-04``) is written
as is and stays a number. Readers that are not spreadsheets see the quote: strip one leading
``'`` from a text cell that begins with ``'`` followed by one of those characters.
"""

from __future__ import annotations

import csv
import io
import json
import re

from bsstream.export.atomic import CollectingExport
from bsstream.protocol.results import Prediction, Result

HEADER = (
    "source",
    "level",
    "start",
    "end",
    "task",
    "final_label",
    "posterior",
    "predictions",
    "embedding",
    "emulated",
    "partial",
)

CHANNEL_COLUMNS = ("channel", "channel_name")

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def safe_cell(text: str) -> str:
    """``text`` as a spreadsheet will not run it: see the module docstring."""
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def predictions_cell(predictions: tuple[Prediction, ...]) -> str:
    items = []
    for p in predictions:
        item: dict[str, str] = {"label": p.label}
        if p.posterior is not None:
            item["posterior"] = p.posterior
        if p.logit is not None:
            item["logit"] = p.logit
        items.append(item)
    return json.dumps(items, ensure_ascii=False, separators=(",", ":"))


def final_posterior_text(result: Result) -> str:
    for p in result.predictions:
        if p.label == result.final_label:
            return p.posterior if p.posterior is not None else ""
    return ""


def is_empty(result: Result) -> bool:
    """A result with nothing to show in a row (``features`` without ``--embeddings``)."""
    return not result.final_label and not result.predictions and result.embedding is None


def header(split: bool) -> tuple[str, ...]:
    """The header row: with ``split``, the channel columns after ``source``."""
    return (HEADER[0], *CHANNEL_COLUMNS, *HEADER[1:]) if split else HEADER


def result_row(
    source: str,
    result: Result,
    *,
    emulated: bool = False,
    partial: bool = False,
    channel: tuple[int | None, str | None] | None = None,
) -> list[str]:
    """One result's row, every cell neutralised (:func:`safe_cell`); ``channel`` (the message's
    channel and name) adds the channel cells after ``source`` (``--channels split``)."""
    index, name = channel if channel is not None else (None, None)
    channel_cells = [] if channel is None else ["" if index is None else str(index), name or ""]
    row = [
        source,
        *channel_cells,
        result.level or "",
        result.start_time,
        result.end_time,
        result.task,
        result.final_label,
        final_posterior_text(result),
        predictions_cell(result.predictions),
        result.embedding or "",
        "true" if emulated else "false",
        "true" if partial else "false",
    ]
    return [safe_cell(cell) for cell in row]


class CsvExport(CollectingExport):
    """Sink writing one CSV file on ``close()``."""

    def render(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf)
        split = any(m.channel is not None for record in self.streams for m in record.messages)
        writer.writerow(header(split))
        partial = self.partial_reason is not None
        for record in self.streams:
            for message in record.messages:
                channel = (message.channel, message.channel_name) if split else None
                for result in message.results:
                    if is_empty(result):
                        continue
                    source = message.source or record.source
                    row = result_row(
                        source, result, emulated=record.info.emulated, partial=partial, channel=channel
                    )
                    writer.writerow(row)
        return buf.getvalue()
