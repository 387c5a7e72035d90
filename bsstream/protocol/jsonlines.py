"""Pure: the JSON-lines format. Every line type is encoded and decoded here and nowhere else.

Its users: the ``--json`` writer on stdout (:mod:`bsstream.render.jsonl`), the ``.jsonl``
export (:mod:`bsstream.export.jsonl`), the ``--output-dir`` files (:mod:`bsstream.batch.outdir`)
and ``bsstream replay``. One compact JSON object per line (:func:`dumps_line`: UTF-8,
``ensure_ascii=False``, ``separators=(",", ":")``), told apart by the top-level key:

``stream``
    first line of each input, written when it starts::

        {"stream":{"method":"StreamAudio","methods":["StreamAudio"],"duration":12.5,
         "config":{...},"emulated":false,"bsstream":"0.1.0"},"source":"call.wav"}

    ``source`` the input as given (``stdin`` for ``-``); ``method`` ``StreamAudio``,
    ``DeepfakeDetection`` or ``scan``, ``methods`` the API methods called; ``duration`` the
    input's length in seconds when known up front, else ``null``; ``config`` the AudioConfig
    sent; ``emulated`` true with ``--local``; ``bsstream`` the version that streamed.
a result message (``"result"`` and ``"message_id"``)
    one per StreamResult, :func:`~bsstream.protocol.results.message_to_dict`.
``event``
    ``{"event":"reconnect","source":...,...}`` and the other events, as the session gave them.
``stats``
    ``{"stats":{...},"source":...}`` at the end of an input with ``--stats`` (``"method"``
    too in scan, one per method).
``end``
    last line of each input, written when it ends::

        {"end":{"method":"StreamAudio","status":0,"audio_seconds":12.5,"results":42,
         "error":null,"emulated":false},"source":"call.wav"}

    ``status`` the input's exit status (0 complete, 130/143 interrupted, others failed);
    ``audio_seconds`` the audio sent; ``results`` the results received; ``error`` the one-line
    error or ``null``; ``emulated`` true also when the server said during the stream that it
    is the emulator.
``complete``
    the completion marker, last line of an ``--output-dir`` file:
    ``{"complete":true,"source":...,"status":0,"results":42,"bsstream":"0.1.0"}``.
``partial``
    last line of a partial ``.jsonl`` export (``NAME.partial.jsonl``):
    ``{"partial":{"reason":"interrupted (Ctrl-C)"}}``.

:func:`decode_line` reads any of them back (unknown keys inside ``stream`` and ``end`` are
ignored, so later versions may add some); files written before the ``stream``/``end`` lines
existed are still read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeGuard, TypeVar

from bsstream.protocol.jsontypes import JsonObject
from bsstream.protocol.results import MalformedLine, ResultMessage, message_from_dict, message_to_dict
from bsstream.protocol.stats import Stats
from bsstream.protocol.stream import METHOD_ANALYZE, METHOD_DEEPFAKE, METHOD_SCAN, StreamInfo, StreamOutcome
from bsstream.status import ExitStatus
from bsstream.version import __version__

__all__ = [
    "EndLine",
    "EventLine",
    "JsonLinesWriter",
    "MalformedLine",
    "MarkerLine",
    "PartialLine",
    "Record",
    "StatsLine",
    "StreamLine",
    "decode_line",
    "decode_object",
    "dumps_line",
    "end_line",
    "is_marker",
    "marker_line",
    "message_line",
    "methods_of",
    "partial_line",
    "stats_line",
    "stream_line",
]

STREAM_KEY = "stream"
END_KEY = "end"
EVENT_KEY = "event"
STATS_KEY = "stats"
MARKER_KEY = "complete"
PARTIAL_KEY = "partial"

_T = TypeVar("_T")


def dumps_line(data: object) -> str:
    """The one-line JSON encoding of every line (no newline)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


def methods_of(method: str) -> list[str]:
    """The API methods a stream's method stands for (``scan``: both)."""
    return [METHOD_ANALYZE, METHOD_DEEPFAKE] if method == METHOD_SCAN else [method]


def _seconds(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), 3)


# -- encoding ------------------------------------------------------------------------------------


def stream_line(info: StreamInfo) -> JsonObject:
    """The first line of an input."""
    body: JsonObject = {
        "method": info.method,
        "methods": methods_of(info.method),
        "duration": _seconds(info.duration),
        "config": info.config,
        "emulated": bool(info.emulated),
        "bsstream": info.version if info.version is not None else __version__,
    }
    return {STREAM_KEY: body, "source": info.source}


def message_line(message: ResultMessage) -> JsonObject:
    """A result message's line."""
    return message_to_dict(message)


def stats_line(source: str, stats: Stats, method: str | None = None) -> JsonObject:
    """The ``--stats`` line of an input (of one method, in scan)."""
    out: JsonObject = {STATS_KEY: stats.to_json(), "source": source}
    if method is not None:
        out["method"] = method
    return out


def end_line(info: StreamInfo, outcome: StreamOutcome) -> JsonObject:
    """The last line of an input."""
    body: JsonObject = {
        "method": info.method,
        "status": int(outcome.status),
        "audio_seconds": _seconds(outcome.audio_seconds) or 0.0,
        "results": int(outcome.results),
        "error": outcome.error,
        "emulated": bool(info.emulated),
    }
    return {END_KEY: body, "source": info.source}


def partial_line(reason: str) -> JsonObject:
    """The last line of a partial ``.jsonl`` export."""
    return {PARTIAL_KEY: {"reason": reason}}


def marker_line(source: str, status: int, results: int) -> JsonObject:
    """The completion marker of an ``--output-dir`` file."""
    return {
        MARKER_KEY: True,
        "source": source,
        "status": int(status),
        "results": results,
        "bsstream": __version__,
    }


# -- decoding ------------------------------------------------------------------------------------


def is_marker(data: object) -> TypeGuard[JsonObject]:
    """True for a valid completion marker (a parsed line): status 0 or 10, counts as integers."""
    return (
        isinstance(data, dict)
        and data.get(MARKER_KEY) is True
        and isinstance(data.get("source"), str)
        and type(data.get("status")) is int
        and data["status"] in (0, 10)
        and type(data.get("results")) is int
        and "result" not in data
    )


@dataclass(frozen=True, slots=True)
class StreamLine:
    info: StreamInfo

    @property
    def source(self) -> str:
        return self.info.source


@dataclass(frozen=True, slots=True)
class EndLine:
    source: str
    method: str | None
    status: ExitStatus
    audio_seconds: float
    results: int | None
    error: str | None
    emulated: bool


@dataclass(frozen=True, slots=True)
class StatsLine:
    source: str
    stats: JsonObject | None
    method: str | None
    data: JsonObject  # the line as read


@dataclass(frozen=True, slots=True)
class EventLine:
    data: JsonObject

    @property
    def source(self) -> str | None:
        source = self.data.get("source")
        return source if isinstance(source, str) else None


@dataclass(frozen=True, slots=True)
class MarkerLine:
    data: JsonObject


@dataclass(frozen=True, slots=True)
class PartialLine:
    reason: str


Record = ResultMessage | StreamLine | EndLine | StatsLine | EventLine | MarkerLine | PartialLine

_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
_KINDS = "a result message, event or stats line"


def _printable(text: str) -> str:
    """``text`` with control and other unprintable characters as escapes (``\\x1b``)."""

    def one(ch: str) -> str:
        if ch.isprintable():
            return ch
        return f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}"

    return "".join(one(ch) for ch in text)


def _source(data: Mapping[str, object], default: str | None = "") -> str:
    source = data.get("source", default)
    if not isinstance(source, str):
        raise MalformedLine("source must be a string")
    return source


def _body(data: Mapping[str, object], key: str) -> Mapping[str, object]:
    body = data[key]
    if not isinstance(body, Mapping):
        raise MalformedLine(f"{key} must be an object")
    return body


def _opt(body: Mapping[str, object], key: str, kind: type[_T], what: str) -> _T | None:
    """``body[key]`` when it is a ``kind`` (a boolean only when ``kind`` is bool), None when
    absent or null; anything else is a MalformedLine saying it must be ``what``."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) and kind is not bool:
        raise MalformedLine(f"{key} must be {what}")
    if not isinstance(value, kind):
        raise MalformedLine(f"{key} must be {what}")
    return value


def _opt_seconds(body: Mapping[str, object], key: str, what: str) -> float | None:
    """A number (not a boolean) as a float, None when absent, null or not finite."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MalformedLine(f"{key} must be {what}")
    return float(value) if math.isfinite(value) else None


def _decode_stream(data: Mapping[str, object]) -> StreamLine:
    body = _body(data, STREAM_KEY)
    method = _opt(body, "method", str, "a string") or ""
    duration = _opt_seconds(body, "duration", "a number or null")
    config = _opt(body, "config", dict, "an object") or {}
    emulated = _opt(body, "emulated", bool, "true or false") or False
    version = _opt(body, "bsstream", str, "a string")
    info = StreamInfo(
        source=_source(data),
        method=method,
        config=dict(config),
        duration=duration,
        emulated=emulated,
        version=version,
    )
    return StreamLine(info)


def _decode_end(data: Mapping[str, object]) -> EndLine:
    body = _body(data, END_KEY)
    status = _opt(body, "status", int, "an integer")
    if status is not None and status not in set(ExitStatus):
        raise MalformedLine(f'"end": "status" {status} is not an exit status of bsstream')
    audio = _opt_seconds(body, "audio_seconds", "a number")
    return EndLine(
        source=_source(data),
        method=_opt(body, "method", str, "a string"),
        status=ExitStatus(status if status is not None else 0),
        audio_seconds=audio if audio is not None else 0.0,
        results=_opt(body, "results", int, "an integer"),
        error=_opt(body, "error", str, "a string or null"),
        emulated=_opt(body, "emulated", bool, "true or false") or False,
    )


def _decode_partial(data: JsonObject) -> PartialLine:
    reason = _opt(_body(data, PARTIAL_KEY), "reason", str, "a string")
    return PartialLine(reason or "")


def _decode_stats(data: JsonObject) -> StatsLine:
    stats = data[STATS_KEY]
    if stats is not None and not isinstance(stats, dict):
        raise MalformedLine("stats must be an object")
    method = data.get("method")
    return StatsLine(
        source=_source(data),
        stats=stats,
        method=method if isinstance(method, str) else None,
        data=data,
    )


def _decode_keyed(data: JsonObject) -> Record | None:
    """A line told apart by its top-level key (event, stream, end, marker, partial, stats);
    None when it has none of them."""
    if EVENT_KEY in data:
        return EventLine(data)
    if STREAM_KEY in data:
        return _decode_stream(data)
    if END_KEY in data:
        return _decode_end(data)
    if data.get(MARKER_KEY) is True:
        return MarkerLine(data)
    if PARTIAL_KEY in data:
        return _decode_partial(data)
    if STATS_KEY in data:
        return _decode_stats(data)
    return None


def decode_object(data: object) -> Record:
    """One parsed line as its record. Raises MalformedLine with the reason."""
    if not isinstance(data, dict):
        kind = "null" if data is None else _JSON_TYPES.get(type(data), type(data).__name__)
        raise MalformedLine(f"expected a JSON object ({_KINDS}), got {kind}")
    if "result" not in data:
        record = _decode_keyed(data)
        if record is not None:
            return record
        if "message_id" not in data:
            keys = ", ".join(_printable(str(k)) for k in list(data)[:6]) or "none"
            raise MalformedLine(f"unknown record: not {_KINDS} (keys: {keys})")
    try:
        return message_from_dict(data)
    except (ValueError, TypeError) as exc:  # MalformedLine is a ValueError
        raise MalformedLine(f"malformed result message: {exc}") from None


def decode_line(text: str) -> Record | None:
    """One line of a saved stream as its record; None for an empty line. Raises MalformedLine."""
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedLine(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise MalformedLine("not valid JSON (nested too deeply)") from None
    if isinstance(data, dict):
        try:
            dumps_line(data).encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedLine("a string holds an invalid unicode escape (a lone surrogate)") from None
    return decode_object(data)


class JsonLinesWriter:
    """A Sink (without ``close``) writing the JSON lines through ``write(line)`` (no newline).

    ``frame`` False leaves out the ``stream`` and ``end`` lines (``replay`` of a file written
    before they existed, so it is written back as it was).
    """

    def __init__(self, write: Callable[[str], None], *, frame: bool = True) -> None:
        self._write = write
        self.frame = frame

    def line(self, data: object) -> None:
        self._write(dumps_line(data))

    def begin(self, info: StreamInfo) -> None:
        if self.frame:
            self.line(stream_line(info))

    def message(self, message: ResultMessage) -> None:
        self.line(message_line(message))

    def event(self, event: JsonObject) -> None:
        self.line(event)

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        if outcome.stats is not None:
            self.line(stats_line(info.source, outcome.stats))
        if self.frame:
            self.line(end_line(info, outcome))

    def partial(self, reason: str) -> None:
        """The last line of a partial file (see :func:`~bsstream.protocol.jsonlines.partial_line`)."""
        self.line(partial_line(reason))
