"""``.html`` export: one self-contained report to review a recording (no network: inline CSS and
JS, no fonts/CDN; the audio, when embedded, as a ``data:`` URI).

Layout: a header (sources, total audio duration, methods), then one section per input with
its title, duration and method, the deepfake verdict as a coloured banner when the stream had
a ``deepfake`` task (with ``--channels split`` one banner per channel, named), any error, the
player, a legend per task, the timeline and the summary table (one card per task on a narrow
screen; with split a Channel column, one row per task and channel).

Audio (:mod:`bsstream.export.audio`): the run's PCM, captured as it streamed, gives a loudness
overview strip (``wave``: up to 1,600 values 0..100) and, unless too long or turned off, an
``<audio>`` element (Opus in WebM; one per source: scan's sections share it). Play/pause (the
button or Space), a playhead across the lanes and the overview, click a bar (or the axis) to
seek. The Content-Security-Policy gains ``media-src data:`` only when audio is embedded.

The timeline has one lane per (channel, task) (``--channels split``: channels in order, each
labelled; deepfake first, then tasks in the order first seen; a task whose results carry no
label at all, the ``features`` embeddings, only when embeddings were asked for), one row per
level inside a lane (named beside it; utterance bars outlined), spans coloured by label
(:func:`bsstream.render.palette.label_color`, the terminal's mapping) with the final label's
posterior as opacity, posteriors of every prediction in a tooltip on hover and on keyboard
focus, a time axis with round ticks, and zoom (buttons or Ctrl/⌘ + wheel) with horizontal
scrolling. An overview strip above it shows the whole recording with the visible window (click
or drag to move); a recording over 10 minutes opens on its first 5. The bars take the keyboard
through one focusable element (a roving focus, ``role=button`` with an accessible name like
``emotion happy 0.82, 12.0–14.5 s, segment``). It is drawn on a canvas by inline JS from JSON
embedded in a ``<script type="application/json">`` block (``<``, ``>``, ``&``, U+2028 and
U+2029 escaped, so no text can end the block), and only the visible part is drawn, so a
2-hour call with tens of thousands of spans stays fast. A Content-Security-Policy meta tag
forbids any network access and allows only the page's own stylesheet and script, by their
SHA-256 computed as the page is written (no ``'unsafe-inline'``; label colours in the summary
and legend are classes, not ``style`` attributes). All text is escaped (HTML by :func:`html.escape`, in JS by
``textContent``). Results with unparseable times are left out of the timeline (counted in a
note) but kept in the summary. JS errors are written into ``#bs-js-errors``; after drawing,
``<body data-bs-rendered="N">`` counts the timelines drawn. Printing shows the whole recording
whatever the zoom: up to 5 minutes as one full-width strip (lane names, axis and bars, drawn
when printing starts), a longer one as strips of 2, 5, 10, 15, 30 or 60 minutes (the shortest
giving at most 24), one under the other on one time scale, each captioned ``Part 2 of 6: 2:00.0
– 4:00.0 of 11:00.0``; lanes taller than a page (``--channels split``) are split into strips
per channel (and by height), each with its own axis, captioned ``lanes 11–20 of 20``.

Several inputs: one section per input, in stream order.

Provenance: sources are shown as given (a relative path stays relative, in the page title
too); under the header a banner says when the results come from the local emulator (not
Behavioral Signals models) and, for a partial report (``NAME.partial.html``, see
:mod:`bsstream.export.partial`), that it is partial and why; each input's line says
``emulated`` too; the footer names the bsstream version.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bsstream.display import channel_label
from bsstream.export.atomic import CollectingExport, StreamRecord
from bsstream.export.html_assets import CSS, JS
from bsstream.protocol.jsontypes import JsonObject
from bsstream.protocol.results import Result, ResultMessage
from bsstream.protocol.summary import DEEPFAKE_TASK, TaskSummary

# the one label -> colour mapping, shared with the terminal's live view
from bsstream.render.palette import label_color

if TYPE_CHECKING:
    from bsstream.export.audio import AudioStore

_GENUINE = {"bonafide", "bona fide", "bona-fide", "genuine", "real", "human", "authentic", "live"}
_FAKE = {"spoofed", "spoof", "fake", "synthetic", "deepfake", "ai", "generated", "cloned"}


def ink_for(color: str) -> str:
    """Black or white text, whichever reads better on ``color``."""
    r, g, b = (int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
    return "#111827" if luminance > 0.22 else "#ffffff"


def verdict_class(label: str) -> str:
    key = label.strip().lower()
    if key in _GENUINE:
        return "ok"
    if key in _FAKE:
        return "bad"
    return "neutral"


def script_json(data: object) -> str:
    """JSON safe to embed in a <script> element: nothing in it can close or confuse the block."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    total = round(seconds)
    if total < 60:
        return f"{seconds:.1f} s"
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


class _Labels:
    """Interned labels shared by all streams of a report (index -> text, colour, ink)."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.labels: list[str] = []

    def __call__(self, label: str) -> int:
        i = self.index.get(label)
        if i is None:
            i = self.index[label] = len(self.labels)
            self.labels.append(label)
        return i


_LEVEL_ORDER = {"segment": 0, "utterance": 1}


class _Lanes:
    """The lanes of one stream: one per (channel, task), in the order shown."""

    def __init__(self) -> None:
        self.keys: list[tuple[int, str | None, str]] = []  # (channel index or -1, channel label, task)
        self.levels: dict[tuple[int, str | None, str], set[int]] = {}
        self.counts: dict[tuple[int, str | None, str], int] = {}
        self.labelled: set[tuple[int, str | None, str]] = set()

    def key(self, message: ResultMessage, task: str) -> tuple[int, str | None, str]:
        channel = -1 if message.channel is None else message.channel
        label = None if message.channel is None else channel_label(message.channel, message.channel_name)
        key = (channel, label, task)
        if key not in self.levels:
            self.keys.append(key)
            self.levels[key] = set()
            self.counts[key] = 0
        return key

    def order(self, keep_unlabelled: bool) -> list[tuple[int, str | None, str]]:
        """Channels in order, deepfake first in each, then as first seen; lanes whose results
        carry no label at all (the features task's embeddings) only when embeddings were asked."""
        first = {k: i for i, k in enumerate(self.keys)}
        shown = [k for k in self.keys if keep_unlabelled or k in self.labelled]
        return sorted(shown, key=lambda k: (k[0], k[2] != DEEPFAKE_TASK, first[k]))


def _result_span(result: Result, intern: _Labels, level: int) -> list[object] | None:
    start, end = result.start, result.end
    if start is None or end is None:
        return None
    if end < start:
        start, end = end, start
    preds = [[intern(p.label), p.posterior] for p in result.predictions]
    conf = result.final_posterior
    conf = None if conf is None or not math.isfinite(conf) else round(min(1.0, max(0.0, conf)), 3)
    return [0, level, round(start, 3), round(end, 3), intern(result.final_label), preds, result.id, conf]


def _level_index(levels: list[str | None], level: str | None) -> int:
    if level not in levels:
        levels.append(level)
    return levels.index(level)


def _stream_data(record: StreamRecord, intern: _Labels, levels: list[str | None]) -> JsonObject:
    lanes = _Lanes()
    raw: list[tuple[tuple[int, str | None, str], list[object]]] = []
    skipped = 0
    extent = record.duration or 0.0
    for message in record.messages:
        for result in message.results:
            key = lanes.key(message, result.task)
            if result.final_label or result.predictions:
                lanes.labelled.add(key)
            level = _level_index(levels, result.level)
            span = _result_span(result, intern, level)
            if span is None:
                skipped += 1
                continue
            lanes.levels[key].add(level)
            lanes.counts[key] += 1
            end = span[3]
            assert isinstance(end, (int, float))
            extent = max(extent, end)
            raw.append((key, span))
    order = lanes.order(bool(record.info.config.get("feature_embedding")))
    lane_index = {key: i for i, key in enumerate(order)}
    spans = []
    for key, span in raw:
        if key in lane_index:
            span[0] = lane_index[key]
            spans.append(span)

    def level_key(i: int) -> tuple[int, str]:
        name = levels[i]
        return (_LEVEL_ORDER.get(name or "", 2), name or "~")

    lane_list = []
    for key in order:
        # a task seen only with unparseable times: an empty row
        present = sorted(lanes.levels[key], key=level_key) or [_level_index(levels, None)]
        lane_list.append({"task": key[2], "channel": key[1], "levels": present, "count": lanes.counts[key]})
    return {"source": record.source, "extent": extent, "lanes": lane_list, "spans": spans, "skipped": skipped}


def _verdict_html(verdict: TaskSummary | None) -> str:
    if verdict is None:
        return ""
    detail = [f"{verdict.share * 100:.0f}% of the analysed speech"]
    if verdict.seconds > 0:
        detail[0] = f"{verdict.share * 100:.0f}% of {fmt_duration(verdict.seconds)}"
    if verdict.confidence is not None:
        detail.append(f"mean posterior {verdict.confidence:.2f}")
    detail.append(f"{verdict.results} result{'s' if verdict.results != 1 else ''}")
    if verdict.level:
        detail.append(f"{verdict.level} level")
    channel = verdict.channel_label  # --channels split: one banner per channel, each named
    title = "Deepfake verdict" if channel is None else f"Deepfake verdict · {channel}"
    return (
        f'<div class="verdict {verdict_class(verdict.label)}" role="status">'
        f'<div><div class="v-title">{_esc(title)}</div>'
        f'<div class="v-label">{_esc(verdict.label)}</div></div>'
        f'<div class="v-detail">{_esc(" · ".join(detail))}</div></div>'
    )


def _swatch(color: str) -> str:
    """A colour square: a class per colour (``c-4e79a7``, its rule in :func:`swatch_css`), no
    ``style`` attribute, so the CSP needs no ``'unsafe-inline'`` for styles."""
    return f'<span class="swatch c-{color.lstrip("#").lower()}"></span>'


_SWATCH_CLASS = re.compile(r'class="swatch c-([0-9a-f]{6})"')


def swatch_css(body: str) -> str:
    """The rules of the colour classes :func:`_swatch` put into ``body``."""
    colors = sorted(set(_SWATCH_CLASS.findall(body)))
    return "".join(f"\n.swatch.c-{c} {{ background: #{c}; }}" for c in colors)


def csp_hash(text: str) -> str:
    """A CSP source for one inline element's exact text: ``'sha256-<base64>'``."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def _summary_html(record: StreamRecord) -> str:
    tasks = record.summary.tasks
    if not tasks:
        return '<h3>Summary</h3><p class="empty">No results.</p>'
    split = record.summary.split  # --channels split: a Channel column, one row per task and channel
    rows = []
    for t in tasks:
        color = label_color(t.label)
        conf = f"{t.confidence:.2f}" if t.confidence is not None else "—"
        covered = fmt_duration(t.seconds) if t.seconds > 0 else "—"
        channel = f'<td data-th="Channel">{_esc(t.channel_label or "—")}</td>' if split else ""
        rows.append(  # data-th: the column's name, shown beside each value on a narrow screen
            f"<tr>{channel}"
            f'<td data-th="Task">{_esc(t.task)}</td><td data-th="Level">{_esc(t.level or "—")}</td>'
            f'<td data-th="Dominant">{_swatch(color)}'
            f"{_esc(t.label)}</td>"
            f'<td class="num" data-th="Share">{t.share * 100:.0f}%</td>'
            f'<td class="num" data-th="Confidence">{conf}</td>'
            f'<td class="num" data-th="Covered">{covered}</td>'
            f'<td class="num" data-th="Results">{t.results}</td></tr>'
        )
    return (
        '<h3>Summary</h3><div class="table-wrap"><table class="summary">'
        f"<thead><tr>{'<th>Channel</th>' if split else ''}<th>Task</th><th>Level</th>"
        '<th>Dominant label</th><th class="num">Share</th><th class="num">Confidence</th>'
        '<th class="num">Covered</th><th class="num">Results</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table></div>"
    )


def _legend_html(record: StreamRecord) -> str:
    by_task: dict[str, list[str]] = {}
    for message in record.messages:
        for result in message.results:
            labels = by_task.setdefault(result.task, [])
            if result.final_label and result.final_label not in labels:
                labels.append(result.final_label)
    parts = []
    for task, labels in sorted(by_task.items(), key=lambda item: item[0] != DEEPFAKE_TASK):  # as the lanes
        if not labels:
            continue
        chips = "".join(
            f'<span class="chip">{_swatch(label_color(label))}{_esc(label)}</span>' for label in labels[:24]
        )
        more = f'<span class="chip">+{len(labels) - 24} more</span>' if len(labels) > 24 else ""
        parts.append(f'<div class="lg-row"><span class="lg-task">{_esc(task)}</span>{chips}{more}</div>')
    if not parts:
        return ""
    key = (
        '<div class="lg-row lg-key"><span class="chip"><span class="swatch conf-hi"></span>confident</span>'
        '<span class="chip"><span class="swatch conf-lo"></span>paler: lower posterior</span>'
        '<span class="chip"><span class="swatch lvl-utt"></span>utterance row (outlined)</span></div>'
    )
    return f'<div class="legend" aria-label="Legend">{"".join(parts)}{key}</div>'


def _player_html(i: int, audio: _AudioRef | None) -> str:
    """Play/pause, the clock and (for the first section of a source) the audio element."""
    if audio is None or audio.element is None:
        note = f'<div class="tl-note">Audio {_esc(audio.problem)}.</div>' if audio and audio.problem else ""
        return note
    element = ""
    if audio.uri is not None:
        element = f'<audio id="{audio.element}" preload="auto" src="{_esc(audio.uri)}"></audio>'
    return (
        f'<div class="tl-player" role="group" aria-label="Audio player">{element}'
        f'<button type="button" class="play" aria-label="Play" aria-controls="{audio.element}" '
        'title="Play / pause (Space)">▶</button><span class="tl-clock" aria-live="off">0:00</span>'
        '<span class="tl-hint">Space play/pause · click a bar or the axis to seek · '
        "Tab to the bars, ←/→ ↑/↓ move, Enter plays from a bar</span></div>"
    )


def _timeline_html(i: int, record: StreamRecord, data: JsonObject, audio: _AudioRef | None) -> str:
    if not data["lanes"]:
        return '<p class="empty">No results to show on a timeline.</p>'
    note = ""
    if data["skipped"]:
        note = (
            f'<div class="tl-note">{data["skipped"]} result(s) with unparseable times are not shown '
            "on the timeline.</div>"
        )
    return (
        f'<div class="timeline" id="timeline-{i}" role="region" aria-label="Timeline of '
        f'{_esc(record.source or "(unnamed input)")}">'
        f"{_player_html(i, audio)}{_legend_html(record)}"
        '<div class="tl-toolbar" role="toolbar" aria-label="Zoom">'
        '<button type="button" class="zoom-out" title="Zoom out" aria-label="Zoom out">−</button>'
        '<button type="button" class="zoom-in" title="Zoom in (or Ctrl + wheel)" '
        'aria-label="Zoom in">+</button>'
        '<button type="button" class="zoom-fit" title="Show the whole stream">Fit</button>'
        '<span class="tl-hint">Ctrl + wheel to zoom, scroll sideways to move, hover or focus for '
        "posteriors</span>"
        '<span class="tl-range" aria-live="polite"></span></div>'
        '<div class="tl-overview" tabindex="0" role="slider" aria-label="Overview: the whole recording; '
        'drag or click to move the view, ←/→ to seek" aria-valuemin="0" '
        f'aria-valuemax="{data["extent"]:.1f}" aria-valuenow="0"><div class="ov-img"></div>'
        '<div class="ov-window"></div><div class="ov-head"></div></div>'
        '<div class="tl-body"><div class="tl-names"></div>'
        '<div class="tl-scroll"><div class="tl-spacer"><canvas aria-hidden="true"></canvas>'
        '<div class="tl-focus" tabindex="0" role="button" aria-label="Timeline bars"></div>'
        f"</div></div></div>{note}</div>"
    )


def _section_html(i: int, record: StreamRecord, data: JsonObject, audio: _AudioRef | None = None) -> str:
    outcome = record.outcome
    meta = [f"<span>Duration <b>{_esc(fmt_duration(record.duration))}</b></span>"]
    if record.info.method:
        meta.append(f"<span>Method <b>{_esc(record.info.method)}</b></span>")
    meta.append(f"<span>Results <b>{sum(len(m.results) for m in record.messages)}</b></span>")
    if record.info.emulated:
        meta.append("<span><b>emulated</b></span>")
    problem = ""
    if outcome is not None and int(outcome.status) != 0:
        try:
            status = f"{int(outcome.status)} ({outcome.status.name.lower().replace('_', ' ')})"
        except ValueError:
            status = str(int(outcome.status))
        problem = f'<div class="problem">Stream ended with status {_esc(status)}'
        problem += f": {_esc(outcome.error)}</div>" if outcome.error else "</div>"
    elif outcome is None and record.messages:
        problem = '<div class="problem">The stream did not finish; results may be incomplete.</div>'
    return (
        f'<section class="stream" id="stream-{i}"><h2>{_esc(record.source or "(unnamed input)")}</h2>'
        f'<div class="meta">{"".join(meta)}</div>'
        f"{''.join(_verdict_html(v) for v in record.summary.verdicts)}{problem}"
        f"{_timeline_html(i, record, data, audio)}"
        f"{_summary_html(record)}</section>"
    )


class _AudioRef:
    """A section's audio: the element id it plays (None: no audio), the data URI when this
    section holds the element (the first section of its source), why there is none."""

    def __init__(self, element: str | None, uri: str | None, problem: str | None) -> None:
        self.element, self.uri, self.problem = element, uri, problem


def _audio_refs(
    streams: list[StreamRecord], store: AudioStore | None, datas: list[JsonObject]
) -> list[_AudioRef | None]:
    """One audio element per source (scan's two methods share one); waveforms into ``datas``."""
    refs: list[_AudioRef | None] = []
    elements: dict[str, str] = {}
    for record, data in zip(streams, datas, strict=True):
        captured = None if store is None else store.get(record.source)
        if captured is None:
            refs.append(None)
            continue
        data["wave"] = captured.waveform()
        data["waveSeconds"] = round(captured.seconds, 3)
        element = elements.get(record.source)
        uri = None
        if element is None:
            uri = captured.data_uri()
            if uri is not None:
                element = elements[record.source] = f"bs-audio-{len(elements)}"
        data["audio"] = element
        refs.append(_AudioRef(element, uri, captured.problem))
    return refs


def _provenance_html(streams: list[StreamRecord], partial_reason: str | None) -> str:
    """The banners under the header: emulated results, a partial report."""
    out = ""
    if any(r.info.emulated for r in streams):
        out += (
            '<div class="provenance emulated" role="note"><b>Emulated results.</b> They come from '
            "bsstream's local emulator (simple heuristics), not from Behavioral Signals models.</div>"
        )
    if partial_reason is not None:
        out += (
            '<div class="provenance partial" role="alert"><b>Partial report.</b> '
            f"{_esc(partial_reason)}. It holds what was received before that; the requested "
            "file is written only by a complete run.</div>"
        )
    return out


def _header_meta(streams: list[StreamRecord]) -> str:
    """The header's line: the inputs as given, their total duration, the methods."""
    sources = [r.source or "(unnamed input)" for r in streams]
    durations = [r.duration for r in streams if r.duration is not None]
    total = sum(durations) if durations else None
    methods = sorted({r.info.method for r in streams if r.info.method})
    inputs = "Inputs" if len(sources) != 1 else "Input"
    meta = [f"<span>{inputs} <b>{_esc(', '.join(sources) or '—')}</b></span>"]
    meta.append(f"<span>Duration <b>{_esc(fmt_duration(total))}</b></span>")
    if methods:
        meta.append(f"<span>Method <b>{_esc(', '.join(methods))}</b></span>")
    return "".join(meta)


def _csp(refs: list[_AudioRef | None], style: str, script: str) -> str:
    """No network at all; the page's own inline stylesheet and script only, by their SHA-256
    (no ``'unsafe-inline'``: an injected ``<script>`` or ``style`` attribute would not run);
    data: images, and data: media when the audio is embedded."""
    csp = f"default-src 'none'; style-src {csp_hash(style)}; script-src {csp_hash(script)}; img-src data:"
    if any(ref is not None and ref.uri is not None for ref in refs):
        csp += "; media-src data:"  # the embedded audio, and nothing else
    return csp


def render_html(
    streams: list[StreamRecord], partial_reason: str | None = None, audio: AudioStore | None = None
) -> str:
    """The whole report for the collected streams (``partial_reason``: why it is partial;
    ``audio``: an :class:`bsstream.export.audio.AudioStore` with each source's captured audio)."""
    from bsstream.version import __version__

    intern = _Labels()
    levels: list[str | None] = []
    datas = [_stream_data(r, intern, levels) for r in streams]
    refs = _audio_refs(streams, audio, datas)
    colors = [label_color(label) for label in intern.labels]
    payload = {
        "streams": datas,
        "labels": intern.labels,
        "colors": colors,
        "inks": [ink_for(c) for c in colors],
        "levels": levels,
    }
    sources = [r.source or "(unnamed input)" for r in streams]
    title = "bsstream report — " + (", ".join(sources) if sources else "no input")
    sections = "".join(
        _section_html(i, r, d, a) for i, (r, d, a) in enumerate(zip(streams, datas, refs, strict=True))
    )
    if not streams:
        sections = '<p class="empty">No input was streamed.</p>'
    versions = [r.info.version for r in streams if r.info.version]
    version = versions[0] if versions else __version__
    body = (
        '<body><div class="page">'
        '<header class="report"><h1><span class="brand">bsstream</span> report</h1>'
        f'<div class="meta">{_header_meta(streams)}</div></header>'
        f"{_provenance_html(streams, partial_reason)}"
        '<div id="bs-js-errors"></div>'
        '<noscript><p class="problem">The timeline needs JavaScript; the summaries below do not.</p>'
        "</noscript>"
        f'<main aria-label="Results">{sections}</main>'
        f"<footer>Generated by bsstream {_esc(version)}. Self-contained: this file loads nothing from "
        "the network.</footer>"
        "</div>\n"
        f'<script type="application/json" id="bs-data">{script_json(payload)}</script>\n'
        f"<script>{JS}</script>\n</body></html>\n"
    )
    style = CSS + swatch_css(sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_csp(refs, style, JS)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{style}</style></head>\n"
        f"{body}"
    )


class HtmlExport(CollectingExport):
    """Sink writing the self-contained HTML report on ``close()``."""

    audio: AudioStore | None = None  # the run's AudioStore (bsstream.export.audio.attach_audio), if any

    def render(self) -> str:
        return render_html(self.streams, self.partial_reason, self.audio)


def attach_audio(exports: Sequence[object], embed: bool | None) -> AudioStore | None:
    """An AudioStore shared by the run's HTML reports (``exports``: the --output sinks, maybe
    wrapped in a GuardedOutput); None when there is no HTML report."""
    from bsstream.export.audio import AudioStore

    reports = [e for e in (getattr(x, "sink", x) for x in exports) if isinstance(e, HtmlExport)]
    if not reports:
        return None
    store = AudioStore(embed)
    for report in reports:
        report.audio = store
    return store
