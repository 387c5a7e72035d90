"""``.json`` export: one pretty-printed document (UTF-8, ``ensure_ascii=False``, indent 2).

Per input, one object::

    {
      "source": "call.wav",        # the input as given (a relative path stays relative)
      "method": "StreamAudio",     # or DeepfakeDetection, or scan (both)
      "methods": ["StreamAudio"],  # the API methods called
      "emulated": false,           # true: results from the local emulator, not the vendor's models
      "duration": 12.5,            # the input's length in seconds when known, else the audio sent
      "audio_seconds": 12.5,       # audio sent (less than duration when interrupted or failed)
      "config": {...},             # the AudioConfig sent, as data
      "status": 0,                 # the input's exit status (null if the stream never ended)
      "error": null,               # the one-line error, when status != 0
      "summary": {"tasks": [...], "verdict": {...} | null},   # protocol.summary.summary_to_dict
      "results": [{...}, ...]      # every result message, as message_to_dict() (the --json lines)
    }

One input: the document is that object plus the file's own keys; several inputs:
``{"streams": [obj, obj, ...]}`` in the order they were streamed, plus the file's keys (a run
with no input at all writes ``"streams": []``). The file's keys, last:

- ``"partial"``: false, or true when the run was interrupted or an input failed or was not
  streamed (the file is then ``NAME.partial.json``, see :mod:`bsstream.export.partial`);
- ``"partial_reason"``: why (null when complete);
- ``"bsstream"``: the version that streamed the results.

Written once, on ``close()`` (values JSON cannot hold are written as strings).
"""

from __future__ import annotations

import json

from bsstream.export.atomic import CollectingExport, StreamRecord
from bsstream.protocol.jsonlines import methods_of
from bsstream.protocol.jsontypes import JsonObject
from bsstream.protocol.results import message_to_dict
from bsstream.protocol.summary import summary_to_dict
from bsstream.version import __version__


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def stream_document(record: StreamRecord) -> JsonObject:
    """One input's document."""
    outcome = record.outcome
    return {
        "source": record.source,
        "method": record.info.method,
        "methods": methods_of(record.info.method) if record.info.method else [],
        "emulated": bool(record.info.emulated),
        "duration": _seconds(record.duration),
        "audio_seconds": _seconds(outcome.audio_seconds) if outcome is not None else None,
        "config": record.info.config,
        "status": int(outcome.status) if outcome is not None else None,
        "error": outcome.error if outcome is not None else None,
        "summary": summary_to_dict(record.summary),
        "results": [message_to_dict(m) for m in record.messages],
    }


class JsonDocExport(CollectingExport):
    """Sink writing one JSON document on ``close()``."""

    def document(self) -> JsonObject:
        docs = [stream_document(r) for r in self.streams]
        doc: JsonObject = docs[0] if len(docs) == 1 else {"streams": docs}
        reason = self.partial_reason
        versions = [r.info.version for r in self.streams if r.info.version]
        doc["partial"] = reason is not None
        doc["partial_reason"] = reason
        doc["bsstream"] = versions[0] if versions else __version__
        return doc

    def render(self) -> str:
        return json.dumps(self.document(), ensure_ascii=False, indent=2, default=str) + "\n"
