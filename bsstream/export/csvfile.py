"""``.csv`` export: one row per result (RFC 4180 via the csv module, UTF-8 without BOM, CRLF).

Header: ``source,level,start,end,task,final_label,posterior,predictions``

- ``start``/``end``: the times exactly as the service sent them (strings, maybe unparseable);
- ``level``: ``segment``/``utterance``, empty when the result carried none;
- ``posterior``: the final label's posterior as sent (first prediction with that label),
  empty when absent;
- ``predictions``: every prediction as a compact JSON array, in the order sent, e.g.
  ``[{"label":"male","posterior":"0.91"},{"label":"female","posterior":"0.09"}]``
  (keys ``label``, and ``posterior``/``logit`` when the service set them). JSON keeps
  labels with ``|``, ``:``, commas or quotes unambiguous; the csv module quotes the cell.

Several inputs: their rows follow one another in stream order; the ``source`` column tells
them apart. Labels are written as-is (no spreadsheet-formula neutralising).
"""

from __future__ import annotations

import csv
import io
import json

from bsstream.export.atomic import CollectingExport
from bsstream.protocol.results import Prediction, Result

HEADER = ("source", "level", "start", "end", "task", "final_label", "posterior", "predictions")


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


def result_row(source: str, result: Result) -> list[str]:
    return [
        source,
        result.level or "",
        result.start_time,
        result.end_time,
        result.task,
        result.final_label,
        final_posterior_text(result),
        predictions_cell(result.predictions),
    ]


class CsvExport(CollectingExport):
    """Sink writing one CSV file on ``close()``."""

    def render(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(HEADER)
        for record in self.streams:
            for message in record.messages:
                for result in message.results:
                    writer.writerow(result_row(message.source or record.source, result))
        return buf.getvalue()
