"""``.html`` export: one self-contained report (no network: inline CSS and JS, no fonts/CDN).

Layout: a header (sources, total audio duration, methods), then one section per input with
its title, duration and method, the deepfake verdict as a coloured banner when the stream had
a ``deepfake`` task, any error, an interactive timeline and the summary table with a legend.

The timeline has one lane per task (deepfake first, then tasks in the order first seen;
unknown tasks get lanes too), one row per level inside a lane, spans coloured by label
(a stable colour per label, derived from a hash of the label text), posteriors of every
prediction in a tooltip on hover, a time axis with round ticks, and zoom (buttons or
Ctrl/⌘ + wheel) with horizontal scrolling. It is drawn on a canvas by inline JS from JSON
embedded in a ``<script type="application/json">`` block (``<``, ``>``, ``&``, U+2028 and
U+2029 escaped, so no text can end the block), and only the visible part is drawn, so a
2-hour call with tens of thousands of spans stays fast. A Content-Security-Policy meta tag
forbids any network access. All text is escaped (HTML by :func:`html.escape`, in JS by
``textContent``). Results with unparseable times are left out of the timeline (counted in a
note) but kept in the summary. JS errors are written into ``#bs-js-errors``; after drawing,
``<body data-bs-rendered="N">`` counts the timelines drawn.

Several inputs: one section per input, in stream order.

Provenance: sources are shown as given (a relative path stays relative, in the page title
too); under the header a banner says when the results come from the local emulator (not
Behavioral Signals models) and, for a partial report (``NAME.partial.html``, see
:mod:`bsstream.export.partial`), that it is partial and why; each input's line says
``emulated`` too; the footer names the bsstream version.
"""

from __future__ import annotations

import html
import json
from typing import Any

from bsstream.export.atomic import CollectingExport, StreamRecord
from bsstream.export.html_assets import CSS, JS
from bsstream.protocol.summary import DEEPFAKE_TASK, TaskSummary

# the one label -> colour mapping, shared with the terminal's live view
from bsstream.render.palette import label_color
from bsstream.status import ExitStatus

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


def script_json(data: Any) -> str:
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


def _stream_data(record: StreamRecord, intern: _Labels, levels: list[str | None]) -> dict[str, Any]:
    lanes: dict[str, set[int]] = {}
    counts: dict[str, int] = {}
    spans: list[list[Any]] = []
    skipped = 0
    extent = record.duration or 0.0
    raw: list[tuple[str, int, float, float, Any]] = []
    for message in record.messages:
        for result in message.results:
            if result.task not in lanes:
                lanes[result.task] = set()
                counts[result.task] = 0
            start, end = result.start, result.end
            if start is None or end is None:
                skipped += 1
                continue
            if end < start:
                start, end = end, start
            if result.level not in levels:
                levels.append(result.level)
            level = levels.index(result.level)
            lanes[result.task].add(level)
            counts[result.task] += 1
            extent = max(extent, end)
            preds = [[intern(p.label), p.posterior] for p in result.predictions]
            raw.append((result.task, level, start, end, [intern(result.final_label), preds, result.id]))
    order = sorted(lanes, key=lambda t: (t != DEEPFAKE_TASK, list(lanes).index(t)))
    lane_index = {task: i for i, task in enumerate(order)}
    for task, level, start, end, (label, preds, rid) in raw:
        spans.append([lane_index[task], level, round(start, 3), round(end, 3), label, preds, rid])

    def level_key(i: int) -> tuple[int, str]:
        name = levels[i]
        return (_LEVEL_ORDER.get(name or "", 2), name or "~")

    lane_list = []
    for task in order:
        present = sorted(lanes[task], key=level_key)
        if not present:  # a task seen only with unparseable times: an empty row
            if None not in levels:
                levels.append(None)
            present = [levels.index(None)]
        lane_list.append({"task": task, "levels": present, "count": counts[task]})
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
    return (
        f'<div class="verdict {verdict_class(verdict.label)}" role="status">'
        f'<div><div class="v-title">Deepfake verdict</div>'
        f'<div class="v-label">{_esc(verdict.label)}</div></div>'
        f'<div class="v-detail">{_esc(" · ".join(detail))}</div></div>'
    )


def _summary_html(record: StreamRecord) -> str:
    tasks = record.summary.tasks
    if not tasks:
        return '<h3>Summary</h3><p class="empty">No results.</p>'
    rows = []
    for t in tasks:
        color = label_color(t.label)
        conf = f"{t.confidence:.2f}" if t.confidence is not None else "—"
        covered = fmt_duration(t.seconds) if t.seconds > 0 else "—"
        rows.append(
            f"<tr><td>{_esc(t.task)}</td><td>{_esc(t.level or '—')}</td>"
            f'<td><span class="swatch" style="background:{color}"></span>{_esc(t.label)}</td>'
            f'<td class="num">{t.share * 100:.0f}%</td><td class="num">{conf}</td>'
            f'<td class="num">{covered}</td><td class="num">{t.results}</td></tr>'
        )
    return (
        '<h3>Summary</h3><table class="summary"><thead><tr><th>Task</th><th>Level</th>'
        '<th>Dominant label</th><th class="num">Share</th><th class="num">Confidence</th>'
        '<th class="num">Covered</th><th class="num">Results</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
    )


def _legend_html(record: StreamRecord) -> str:
    by_task: dict[str, list[str]] = {}
    for message in record.messages:
        for result in message.results:
            labels = by_task.setdefault(result.task, [])
            if result.final_label and result.final_label not in labels:
                labels.append(result.final_label)
    parts = []
    for task, labels in by_task.items():
        if not labels:
            continue
        chips = "".join(
            f'<span class="chip"><span class="swatch" style="background:{label_color(label)}"></span>'
            f"{_esc(label)}</span>"
            for label in labels[:24]
        )
        more = f'<span class="chip">+{len(labels) - 24} more</span>' if len(labels) > 24 else ""
        parts.append(f'<span class="lg-task">{_esc(task)}</span>{chips}{more}')
    return f'<div class="legend">{"".join(parts)}</div>' if parts else ""


def _section_html(i: int, record: StreamRecord, data: dict[str, Any]) -> str:
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
            status = f"{int(outcome.status)} ({ExitStatus(outcome.status).name.lower().replace('_', ' ')})"
        except ValueError:
            status = str(int(outcome.status))
        problem = f'<div class="problem">Stream ended with status {_esc(status)}'
        problem += f": {_esc(outcome.error)}</div>" if outcome.error else "</div>"
    elif outcome is None and record.messages:
        problem = '<div class="problem">The stream did not finish; results may be incomplete.</div>'
    if data["lanes"]:
        note = ""
        if data["skipped"]:
            note = (
                f'<div class="tl-note">{data["skipped"]} result(s) with unparseable times are not shown '
                "on the timeline.</div>"
            )
        timeline = (
            f'<div class="timeline" id="timeline-{i}">'
            '<div class="tl-toolbar"><button type="button" class="zoom-out" title="Zoom out">−</button>'
            '<button type="button" class="zoom-in" title="Zoom in (or Ctrl + wheel)">+</button>'
            '<button type="button" class="zoom-fit" title="Show the whole stream">Fit</button>'
            '<span class="tl-hint">Ctrl + wheel to zoom, scroll sideways to move, hover for posteriors</span>'
            '<span class="tl-range"></span></div>'
            '<div class="tl-body"><div class="tl-names"></div>'
            '<div class="tl-scroll"><div class="tl-spacer"><canvas></canvas></div></div></div>'
            f"{note}{_legend_html(record)}</div>"
        )
    else:
        timeline = '<p class="empty">No results to show on a timeline.</p>'
    return (
        f'<section class="stream" id="stream-{i}"><h2>{_esc(record.source or "(unnamed input)")}</h2>'
        f'<div class="meta">{"".join(meta)}</div>'
        f"{_verdict_html(record.summary.verdict)}{problem}{timeline}{_summary_html(record)}</section>"
    )


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


def render_html(streams: list[StreamRecord], partial_reason: str | None = None) -> str:
    """The whole report for the collected streams (``partial_reason``: why it is partial)."""
    from bsstream import __version__

    intern = _Labels()
    levels: list[str | None] = []
    datas = [_stream_data(r, intern, levels) for r in streams]
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
    durations = [r.duration for r in streams]
    total = sum(d for d in durations if d is not None) if any(d is not None for d in durations) else None
    methods = sorted({r.info.method for r in streams if r.info.method})
    inputs = "Inputs" if len(sources) != 1 else "Input"
    meta = [f"<span>{inputs} <b>{_esc(', '.join(sources) or '—')}</b></span>"]
    meta.append(f"<span>Duration <b>{_esc(fmt_duration(total))}</b></span>")
    if methods:
        meta.append(f"<span>Method <b>{_esc(', '.join(methods))}</b></span>")
    sections = "".join(_section_html(i, r, d) for i, (r, d) in enumerate(zip(streams, datas, strict=True)))
    if not streams:
        sections = '<p class="empty">No input was streamed.</p>'
    csp = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
    versions = [r.info.version for r in streams if r.info.version]
    version = versions[0] if versions else __version__
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{CSS}</style></head>\n"
        '<body><div class="page">'
        '<header class="report"><h1><span class="brand">bsstream</span> report</h1>'
        f'<div class="meta">{"".join(meta)}</div></header>'
        f"{_provenance_html(streams, partial_reason)}"
        '<div id="bs-js-errors"></div>'
        '<noscript><p class="problem">The timeline needs JavaScript; the summaries below do not.</p>'
        "</noscript>"
        f"{sections}"
        f"<footer>Generated by bsstream {_esc(version)}. Self-contained: this file loads nothing from "
        "the network.</footer>"
        "</div>\n"
        f'<script type="application/json" id="bs-data">{script_json(payload)}</script>\n'
        f"<script>{JS}</script>\n</body></html>\n"
    )


class HtmlExport(CollectingExport):
    """Sink writing the self-contained HTML report on ``close()``."""

    def render(self) -> str:
        return render_html(self.streams, self.partial_reason)
