"""``.json`` export: one pretty-printed document (UTF-8, ``ensure_ascii=False``, indent 2).

Per input, one object::

    {
      "source": "call.wav",
      "method": "StreamAudio",
      "duration": 12.5,            # audio seconds: the known duration, else the audio sent
      "config": {...},             # the AudioConfig sent, as data
      "results": [{...}, ...],     # every result message, as message_to_dict() (the --json lines)
      "summary": {"tasks": [...], "verdict": {...} | null},   # render.summary.summary_to_dict
      "status": 0,                 # the input's exit status (null if the stream never ended)
      "error": null                # the one-line error, when status != 0
    }

One input: the document is that object. Several inputs: ``{"streams": [obj, obj, ...]}``
in the order they were streamed; a run with no input at all writes ``{"streams": []}``.
The file is written once, on ``close()`` (values JSON cannot hold are written as strings).
"""

from __future__ import annotations

import json
from typing import Any

from bsstream.export.atomic import CollectingExport, StreamRecord
from bsstream.protocol.results import message_to_dict
from bsstream.render.summary import summary_to_dict


def stream_document(record: StreamRecord) -> dict[str, Any]:
    """One input's document."""
    outcome = record.outcome
    return {
        "source": record.source,
        "method": record.info.method,
        "duration": record.duration,
        "config": record.info.config,
        "results": [message_to_dict(m) for m in record.messages],
        "summary": summary_to_dict(record.summary),
        "status": int(outcome.status) if outcome is not None else None,
        "error": outcome.error if outcome is not None else None,
    }


class JsonDocExport(CollectingExport):
    """Sink writing one JSON document on ``close()``."""

    def document(self) -> dict[str, Any]:
        docs = [stream_document(r) for r in self.streams]
        if len(docs) == 1:
            return docs[0]
        return {"streams": docs}

    def render(self) -> str:
        return json.dumps(self.document(), ensure_ascii=False, indent=2, default=str) + "\n"
