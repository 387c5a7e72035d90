"""``.srt`` and ``.vtt`` export: one cue per time window, so a media player shows the labels.

A window is (source, start, end, level): every task's result for that window goes into one
cue, tasks in the order first seen, as ``task label posterior`` joined by `` · ``::

    1
    00:00:00,000 --> 00:00:02,000
    emotion neutral 0.70 · gender female 0.91

- The posterior is the final label's, with two decimals; omitted when absent/unparseable.
- Tasks with an empty final label (e.g. ``features``) are left out; a window with nothing
  left is dropped (no empty cues). Results with unparseable times are skipped.
- When the results have more than one level, each cue starts with its level
  (``segment: ...`` / ``utterance: ...``); cues of different levels may overlap.
- Several inputs in one file: cues of all inputs, each prefixed with its source
  (``call.wav — ...``); times are per input (not concatenated).
- Cues are sorted by start (then end, level). A window shorter than 0.5 s (including zero
  or negative length) is shown for 0.5 s; negative times are clamped to 0.
- Text is one line: newlines and other control characters become spaces. SRT: ``-->`` in
  text becomes ``->``; numbering from 1, ``HH:MM:SS,mmm``. VTT: ``WEBVTT`` header,
  ``HH:MM:SS.mmm``, ``&``, ``<``, ``>`` escaped as entities (so no ``-->`` appears).
UTF-8 without BOM, LF line ends, a blank line after every cue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bsstream.export.atomic import CollectingExport

MIN_CUE_SECONDS = 0.5
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


@dataclass
class Cue:
    start: float
    end: float
    text: str


@dataclass
class _Window:
    source: str
    start: float
    end: float
    level: str | None
    order: int
    parts: dict[str, str] = field(default_factory=dict)


def _clean(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())


def _part(task: str, label: str, posterior: float | None) -> str:
    text = f"{_clean(task)} {_clean(label)}".strip()
    if posterior is not None:
        text += f" {posterior:.2f}"
    return text


def build_cues(export: CollectingExport) -> list[Cue]:
    """The cues of every collected stream, sorted by start; text not yet escaped."""
    windows: dict[tuple[str, float, float, str | None], _Window] = {}
    sources: list[str] = []
    levels: set[str | None] = set()
    for record in export.streams:
        for message in record.messages:
            source = message.source or record.source
            for result in message.results:
                start, end = result.start, result.end
                if start is None or end is None:
                    continue
                if source not in sources:
                    sources.append(source)
                levels.add(result.level)
                key = (source, start, end, result.level)
                window = windows.get(key)
                if window is None:
                    window = windows[key] = _Window(source, start, end, result.level, len(windows))
                if result.final_label.strip():
                    window.parts[result.task] = _part(result.task, result.final_label, result.final_posterior)
    several_levels = len(levels) > 1
    several_sources = len(sources) > 1
    level_rank = {"segment": 0, "utterance": 1}
    ordered = sorted(
        windows.values(),
        key=lambda w: (w.start, w.end, level_rank.get(w.level or "", 2), sources.index(w.source), w.order),
    )
    cues = []
    for w in ordered:
        if not w.parts:
            continue
        text = " · ".join(w.parts.values())
        if several_levels:
            text = f"{w.level or 'unknown level'}: {text}"
        if several_sources:
            text = f"{_clean(w.source)} — {text}"
        start = max(w.start, 0.0)
        end = max(w.end, start + MIN_CUE_SECONDS)
        cues.append(Cue(start, end, text))
    return cues


def _timestamp(seconds: float, separator: str) -> str:
    ms = round(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def srt_timestamp(seconds: float) -> str:
    return _timestamp(seconds, ",")


def vtt_timestamp(seconds: float) -> str:
    return _timestamp(seconds, ".")


def vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SrtExport(CollectingExport):
    """Sink writing SubRip subtitles on ``close()``."""

    def render(self) -> str:
        out = []
        for n, cue in enumerate(build_cues(self), start=1):
            text = cue.text.replace("-->", "->")
            out.append(f"{n}\n{srt_timestamp(cue.start)} --> {srt_timestamp(cue.end)}\n{text}\n\n")
        return "".join(out)


class VttExport(CollectingExport):
    """Sink writing WebVTT subtitles on ``close()``."""

    def render(self) -> str:
        out = ["WEBVTT\n\n"]
        for cue in build_cues(self):
            out.append(f"{vtt_timestamp(cue.start)} --> {vtt_timestamp(cue.end)}\n{vtt_escape(cue.text)}\n\n")
        return "".join(out)
