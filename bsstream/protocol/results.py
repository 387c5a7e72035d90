"""Pure: the result model, lenient number parsing, and the JSON-lines mapping.

Times and posteriors are strings on the wire (contract rule 7). The model keeps the strings
exactly as the service sent them and parses them leniently on demand; nothing here depends
on a fixed list of tasks or labels.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from bsstream._gen import api_pb2
from bsstream.protocol.jsontypes import JsonObject

_LEVEL_NAMES = {0: "segment", 1: "utterance"}


def parse_number(text: object) -> float | None:
    """A finite float from a wire string, or None: never raises.

    Accepts "0.9987", "1e-04", " 2 ", "0,5"; "", "nan", "inf", "abc" and non-strings give None.
    """
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        value = float(text)
        return value if math.isfinite(value) else None
    if not isinstance(text, str):
        return None
    candidate = text.strip()
    if not candidate or len(candidate) > 64:
        return None
    try:
        value = float(candidate)
    except ValueError:
        try:
            value = float(candidate.replace(",", "."))
        except ValueError:
            return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class Prediction:
    """One label of a result and its scores, as the wire gives them (text); :attr:`value` parses
    the posterior."""

    label: str
    posterior: str | None = None
    logit: str | None = None

    @property
    def value(self) -> float | None:
        """The posterior as a number (None when absent or unparseable)."""
        return parse_number(self.posterior)


@dataclass(frozen=True, slots=True)
class Result:
    """One InferenceResult: a task's predictions for one time window."""

    id: str
    start_time: str
    end_time: str
    task: str
    predictions: tuple[Prediction, ...] = ()
    final_label: str = ""
    embedding: str | None = None
    level: str | None = None

    @property
    def start(self) -> float | None:
        return parse_number(self.start_time)

    @property
    def end(self) -> float | None:
        return parse_number(self.end_time)

    @property
    def final_posterior(self) -> float | None:
        """The posterior of the final label (the first prediction with that label)."""
        for prediction in self.predictions:
            if prediction.label == self.final_label:
                return prediction.value
        return None

    def key(self) -> tuple[str, str, str, str | None, str]:
        """What identifies a result for de-duplication: window, task, level, id."""
        return (self.start_time, self.end_time, self.task, self.level, self.id)


@dataclass(frozen=True, slots=True)
class ResultMessage:
    """One StreamResult, tagged with the input it came from (and the method, in scan)."""

    cid: int
    pid: int
    message_id: int
    results: tuple[Result, ...] = ()
    source: str = ""
    method: str | None = None
    channel: int | None = None  # --channels split: the input channel (0-based) it came from
    channel_name: str | None = None  # ... and its --channel-names name


def level_name(value: int) -> str:
    """The wire name of a Level enum value; unknown (newer) values render as their number."""
    return _LEVEL_NAMES.get(value, str(value))


def from_proto(msg: api_pb2.StreamResult, *, source: str = "", method: str | None = None) -> ResultMessage:
    """Convert a wire StreamResult into the model, keeping every string as sent."""
    results = tuple(
        Result(
            id=r.id,
            start_time=r.start_time,
            end_time=r.end_time,
            task=r.task,
            predictions=tuple(
                Prediction(
                    label=p.label,
                    posterior=p.posterior if p.HasField("posterior") else None,
                    logit=p.logit if p.HasField("logit") else None,
                )
                for p in r.prediction
            ),
            final_label=r.final_label,
            embedding=r.embedding if r.HasField("embedding") else None,
            level=level_name(r.level) if r.HasField("level") else None,
        )
        for r in msg.result
    )
    return ResultMessage(
        cid=msg.cid, pid=msg.pid, message_id=msg.message_id, results=results, source=source, method=method
    )


def _prediction_dict(p: Prediction) -> dict[str, str]:
    out = {"label": p.label}
    if p.posterior is not None:
        out["posterior"] = p.posterior
    if p.logit is not None:
        out["logit"] = p.logit
    return out


def result_to_dict(r: Result) -> JsonObject:
    """The protobuf JSON mapping of one InferenceResult, proto field names.

    Fields without presence are always present, even at their default; optional fields
    (embedding, level, posterior, logit) appear when the service set them.
    """
    out: JsonObject = {
        "id": r.id,
        "start_time": r.start_time,
        "end_time": r.end_time,
        "task": r.task,
        "prediction": [_prediction_dict(p) for p in r.predictions],
        "final_label": r.final_label,
    }
    if r.embedding is not None:
        out["embedding"] = r.embedding
    if r.level is not None:
        out["level"] = r.level
    return out


def message_to_dict(m: ResultMessage) -> JsonObject:
    """One JSON line: ``source`` (and ``method`` in scan, ``channel`` and ``channel_name`` with
    ``--channels split``), then the StreamResult fields.

    ``cid`` and ``pid`` are JSON numbers, as in the contract's example response.
    """
    out: JsonObject = {"source": m.source}
    if m.method is not None:
        out["method"] = m.method
    if m.channel is not None:
        out["channel"] = m.channel
        if m.channel_name is not None:
            out["channel_name"] = m.channel_name
    out["cid"] = m.cid
    out["pid"] = m.pid
    out["message_id"] = m.message_id
    out["result"] = [result_to_dict(r) for r in m.results]
    return out


class MalformedLine(ValueError):
    """A JSON-lines record that is not a result message."""


def _str(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise MalformedLine(f"{name} must be a string")
    return value


def _opt_str(value: object, name: str) -> str | None:
    return None if value is None else _str(value, name)


def _int(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise MalformedLine(f"{name} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise MalformedLine(f"{name} must be an integer")


def message_from_dict(data: Mapping[str, object]) -> ResultMessage:
    """The inverse of :func:`message_to_dict` (for replay). Raises MalformedLine."""
    if not isinstance(data, Mapping):
        raise MalformedLine("not a JSON object")
    if "result" not in data or "message_id" not in data:
        raise MalformedLine("not a result message (no 'result' or 'message_id')")
    raw_results = data["result"]
    if not isinstance(raw_results, list):
        raise MalformedLine("result must be a list")
    results = []
    for i, raw in enumerate(raw_results):
        if not isinstance(raw, Mapping):
            raise MalformedLine(f"result[{i}] must be an object")
        preds_raw = raw.get("prediction", [])
        if not isinstance(preds_raw, list):
            raise MalformedLine(f"result[{i}].prediction must be a list")
        preds = []
        for p in preds_raw:
            if not isinstance(p, Mapping):
                raise MalformedLine(f"result[{i}].prediction items must be objects")
            preds.append(
                Prediction(
                    label=_str(p.get("label", ""), "label"),
                    posterior=_opt_str(p.get("posterior"), "posterior"),
                    logit=_opt_str(p.get("logit"), "logit"),
                )
            )
        results.append(
            Result(
                id=_str(raw.get("id", ""), "id"),
                start_time=_str(raw.get("start_time", ""), "start_time"),
                end_time=_str(raw.get("end_time", ""), "end_time"),
                task=_str(raw.get("task", ""), "task"),
                predictions=tuple(preds),
                final_label=_str(raw.get("final_label", ""), "final_label"),
                embedding=_opt_str(raw.get("embedding"), "embedding"),
                level=_opt_str(raw.get("level"), "level"),
            )
        )
    return ResultMessage(
        cid=_int(data.get("cid", 0), "cid"),
        pid=_int(data.get("pid", 0), "pid"),
        message_id=_int(data["message_id"], "message_id"),
        results=tuple(results),
        source=_str(data.get("source", ""), "source"),
        method=_opt_str(data.get("method"), "method"),
        channel=None if data.get("channel") is None else _int(data["channel"], "channel"),
        channel_name=_opt_str(data.get("channel_name"), "channel_name"),
    )


def shift_time(text: str, offset: float) -> str:
    """A wire time moved by ``offset`` seconds, keeping its number of decimals.

    Used after a reconnect so times stay absolute to the input. Unparseable text is kept.
    """
    value = parse_number(text)
    if value is None or offset == 0:
        return text
    stripped = text.strip()
    decimals = len(stripped.split(".", 1)[1]) if "." in stripped and "e" not in stripped.lower() else 2
    return f"{value + offset:.{min(decimals, 6)}f}"


def shift_message(m: ResultMessage, offset: float) -> ResultMessage:
    """Every result of a message moved by ``offset`` seconds."""
    if offset == 0:
        return m
    return replace(
        m,
        results=tuple(
            replace(r, start_time=shift_time(r.start_time, offset), end_time=shift_time(r.end_time, offset))
            for r in m.results
        ),
    )
