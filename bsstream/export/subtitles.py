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

Provenance (:func:`provenance_lines`):

- VTT: a ``NOTE`` block right after the header, always: the bsstream version, the source(s)
  as given and the method(s), whether the results come from the local emulator, and, for a
  partial file (``NAME.partial.vtt``), that it is partial and why. Players do not show it.
- SRT has no comments, so what matters is said in a first cue, shown for the first
  :data:`NOTICE_SECONDS` s over whatever else starts then, and only when there is something to
  warn about: ``[emulator results, not Behavioral Signals]`` for emulated results,
  ``[partial: <why>]`` for a partial file (a long reason: ``[partial: the run did not
  complete]``). Complete results from the service get no extra cue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bsstream.export.atomic import CollectingExport

MIN_CUE_SECONDS = 0.5
NOTICE_SECONDS = 4.0  # how long the SRT's first (provenance) cue shows
EMULATED_NOTICE = "[emulator results, not Behavioral Signals]"
PARTIAL_NOTICE_MAX = 30  # a longer reason is only in the other formats: a cue line stays short
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


def _emulated(export: CollectingExport) -> bool:
    return any(r.info.emulated for r in export.streams)


def provenance_lines(export: CollectingExport) -> list[str]:
    """Where the results come from, one fact per line (the VTT's NOTE block)."""
    from bsstream import __version__

    versions = [r.info.version for r in export.streams if r.info.version]
    sources = list(dict.fromkeys(_clean(r.source) for r in export.streams if r.source))
    methods = list(dict.fromkeys(r.info.method for r in export.streams if r.info.method))
    lines = [f"bsstream {versions[0] if versions else __version__}"]
    if sources:
        lines.append(("source: " if len(sources) == 1 else "sources: ") + ", ".join(sources))
    if methods:
        lines.append(("method: " if len(methods) == 1 else "methods: ") + ", ".join(methods))
    if _emulated(export):
        lines.append("emulated: results from the local emulator, not Behavioral Signals models")
    else:
        lines.append("emulated: no")
    reason = export.partial_reason
    if reason is not None:
        lines.append(f"PARTIAL: {_clean(reason)}")
    return lines


def srt_notice(export: CollectingExport) -> list[str]:
    """The lines of the SRT's first cue; empty when there is nothing to warn about."""
    lines = []
    if _emulated(export):
        lines.append(EMULATED_NOTICE)
    reason = export.partial_reason
    if reason is not None:
        why = _clean(reason)
        if len(why) > PARTIAL_NOTICE_MAX:
            why = "the run did not complete"
        lines.append(f"[partial: {why}]")
    return lines


class SrtExport(CollectingExport):
    """Sink writing SubRip subtitles on ``close()``."""

    def render(self) -> str:
        out = []
        cues = build_cues(self)
        notice = srt_notice(self)
        if notice:
            cues.insert(0, Cue(0.0, NOTICE_SECONDS, "\n".join(notice)))
        for n, cue in enumerate(cues, start=1):
            text = cue.text.replace("-->", "->")
            out.append(f"{n}\n{srt_timestamp(cue.start)} --> {srt_timestamp(cue.end)}\n{text}\n\n")
        return "".join(out)


class VttExport(CollectingExport):
    """Sink writing WebVTT subtitles on ``close()``."""

    def render(self) -> str:
        note = "\n".join(line.replace("-->", "->") for line in provenance_lines(self))
        out = ["WEBVTT\n\n", f"NOTE\n{note}\n\n"]
        for cue in build_cues(self):
            out.append(f"{vtt_timestamp(cue.start)} --> {vtt_timestamp(cue.end)}\n{vtt_escape(cue.text)}\n\n")
        return "".join(out)
