# ruff: noqa: E501
"""The inline stylesheet and script of the HTML report (no network, no external fonts)."""

from __future__ import annotations

CSS = """
:root {
  --bg: #f6f7f9; --card: #ffffff; --ink: #1d2430; --muted: #5d6675; --line: #e1e5eb;
  --ok: #1f8f4e; --ok-bg: #e8f6ee; --bad: #c62d3a; --bad-bg: #fdecee; --neutral: #44546a;
  --neutral-bg: #eef1f5; --accent: #2f5dd0;
}
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.page { max-width: 1400px; margin: 0 auto; padding: 20px 24px 40px; }
@media (max-width: 600px) { .page { padding: 12px 8px 24px; } section.stream { padding: 12px 10px 14px; } }
header.report { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap;
  border-bottom: 1px solid var(--line); padding-bottom: 10px; margin-bottom: 16px; }
header.report h1 { font-size: 20px; margin: 0; font-weight: 650; letter-spacing: .2px; }
header.report .brand { color: var(--accent); }
.meta { color: var(--muted); display: flex; gap: 18px; flex-wrap: wrap; }
.meta b { color: var(--ink); font-weight: 600; overflow-wrap: anywhere; }
.meta > span { min-width: 0; }
section.stream { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 16px 18px 18px; margin-bottom: 22px; box-shadow: 0 1px 2px rgba(20,30,50,.04); }
section.stream h2 { font-size: 17px; margin: 0 0 4px; word-break: break-all; }
.verdict { display: flex; align-items: center; gap: 6px 14px; margin: 12px 0 4px; padding: 12px 16px;
  border-radius: 8px; border: 1px solid; flex-wrap: wrap; }
.verdict .v-title { font-size: 12px; text-transform: uppercase; letter-spacing: .8px; opacity: .85; }
.verdict .v-label { font-size: 26px; font-weight: 750; line-height: 1.1; overflow-wrap: normal; word-break: normal;
  hyphens: none; white-space: nowrap; }
@media (max-width: 420px) { .verdict .v-label { font-size: 21px; } }
.verdict .v-detail { color: var(--muted); }
.verdict.ok { color: var(--ok); background: var(--ok-bg); border-color: #b9e2c9; }
.verdict.bad { color: var(--bad); background: var(--bad-bg); border-color: #f3c0c6; }
.verdict.neutral { color: var(--neutral); background: var(--neutral-bg); border-color: var(--line); }
.provenance { margin: 0 0 14px; padding: 8px 12px; border-radius: 6px; border: 1px solid #c9d3ea;
  background: #eef2fb; color: #24355e; }
.provenance.partial { border-color: #f0c36b; background: #fff6e0; color: #6b4a00; }
.problem { margin: 10px 0; padding: 8px 12px; border-radius: 6px; background: #fff6e0;
  border: 1px solid #f0d48a; color: #6b4d00; }
.timeline { margin-top: 14px; }
.tl-toolbar, .tl-player { display: flex; align-items: center; gap: 4px 8px; margin-bottom: 6px; color: var(--muted);
  flex-wrap: wrap; }
.tl-player button.play { font-size: 15px; min-width: 44px; min-height: 32px; padding: 2px 12px; }
.tl-player .tl-clock { font-variant-numeric: tabular-nums; color: var(--ink); font-weight: 600; }
.tl-hint { font-size: 12px; }
@media (max-width: 700px) { .tl-hint { display: none; } }
.tl-toolbar button, .tl-player button { font: inherit; border: 1px solid var(--line); background: #fff; border-radius: 6px;
  padding: 2px 10px; cursor: pointer; color: var(--ink); }
.tl-toolbar button:hover, .tl-player button:hover { background: var(--neutral-bg); }
button:focus-visible, .tl-overview:focus-visible { outline: 3px solid var(--accent); outline-offset: 1px; }
.tl-overview { border: 1px solid var(--line); border-radius: 8px; overflow: hidden; margin-bottom: 6px;
  cursor: pointer; touch-action: none; height: 42px; position: relative; }
.tl-overview .ov-img { position: absolute; inset: 0; background: #f3f5f8 no-repeat 0 0 / 100% 100%; }
.tl-overview .ov-window { position: absolute; top: 0; bottom: 0; background: rgba(47,93,208,.14);
  border: 2px solid var(--accent); border-radius: 4px; min-width: 3px; }
.tl-overview .ov-head { position: absolute; top: 0; bottom: 0; width: 2px; margin-left: -1px; background: #e11d48;
  display: none; }
.tl-toolbar .tl-range { margin-left: auto; font-variant-numeric: tabular-nums; }
.tl-body { display: flex; border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
.tl-names { flex: 0 0 170px; border-right: 1px solid var(--line); background: #fbfcfd; min-width: 0; }
@media (max-width: 600px) { .tl-names { flex-basis: 104px; } .lane { padding: 0 4px 0 6px; }
  .lane .lane-task { font-size: 12px; } }
.tl-names .axis-gap { border-bottom: 1px solid var(--line); }
.lane { display: flex; align-items: center; gap: 4px; padding: 0 6px 0 10px;
  border-bottom: 1px solid var(--line); overflow: hidden; }
.lane .lane-head { flex: 1 1 auto; min-width: 0; }
.lane.ch-start { box-shadow: inset 0 2px 0 var(--accent); }
.lane .lane-task { font-weight: 600; line-height: 1.2; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.lane .lane-ch { font-size: 11px; line-height: 1.2; color: var(--accent); font-weight: 650; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; }
.lane .lane-levels { flex: 0 0 auto; font-size: 11px; color: var(--muted); white-space: nowrap; }
.lane .lane-level { display: flex; align-items: center; justify-content: flex-end; }
.lane .lane-level.utt { color: var(--ink); font-weight: 650; }
.lane .lane-level .short { display: none; }
@media (max-width: 600px) { .lane .lane-level .long { display: none; } .lane .lane-level .short { display: inline; } }
.tl-scroll { flex: 1 1 auto; min-width: 0; overflow-x: auto; overflow-y: hidden; position: relative; }
.tl-focus { position: absolute; top: 0; left: 0; width: 1px; height: 1px; border-radius: 3px; outline: none; }
.tl-focus:focus { outline: 3px solid #111827; box-shadow: 0 0 0 5px rgba(255,255,255,.85); z-index: 2; }
.tl-spacer { position: relative; }
.tl-scroll canvas { position: sticky; left: 0; display: block; }
.tl-note { color: var(--muted); font-size: 12px; margin-top: 4px; }
.tooltip { position: fixed; z-index: 10; pointer-events: none; background: #1d2430; color: #fff;
  border-radius: 6px; padding: 8px 10px; font-size: 12px; max-width: 360px; box-shadow: 0 4px 14px rgba(0,0,0,.25); }
.tooltip .tt-head { font-weight: 650; margin-bottom: 4px; word-break: break-word; }
.tooltip .tt-time { color: #b8c2d3; margin-bottom: 6px; font-variant-numeric: tabular-nums; }
.tooltip table { border-collapse: collapse; width: 100%; }
.tooltip td { padding: 1px 4px; vertical-align: middle; word-break: break-word; }
.tooltip td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.tooltip tr.final td { font-weight: 700; }
.tooltip .bar { height: 6px; background: #8fb3ff; border-radius: 3px; min-width: 1px; }
h3 { font-size: 14px; margin: 18px 0 6px; }
table.summary { border-collapse: collapse; width: 100%; }
.table-wrap { max-width: 100%; overflow-x: auto; }
@media (max-width: 600px) {  /* one card per row, each value named */
  table.summary thead { display: none; }
  table.summary, table.summary tbody { display: block; }
  table.summary tr { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 0 8px;
    padding: 6px 0; border-bottom: 1px solid var(--line); }
  table.summary td { display: block; border: none; padding: 1px 2px; text-align: left !important;
    overflow-wrap: anywhere; min-width: 0; }
  table.summary td:first-child { font-weight: 650; }
  table.summary td::before { content: attr(data-th); color: var(--muted); font-size: 11px; margin-right: 6px; }
}
table.summary th, table.summary td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); }
table.summary th { font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .5px; }
table.summary td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.summary th.num { text-align: right; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 3px; margin-right: 6px;
  vertical-align: -1px; border: 1px solid rgba(0,0,0,.15); }
.legend { margin: 4px 0 8px; font-size: 12px; color: var(--muted); }
.legend { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 0 18px; }
.legend .lg-row { display: flex; flex-wrap: wrap; gap: 2px 10px; padding: 1px 0; min-width: 0; }
.legend .lg-key { grid-column: 1 / -1; }
.legend .lg-task { font-weight: 600; color: var(--ink); min-width: 96px; }
@media (max-width: 600px) { .legend { grid-template-columns: 1fr; } }
.swatch.conf-hi { background: #4e79a7; }
.swatch.conf-lo { background: #4e79a7; opacity: .35; }
.swatch.lvl-utt { background: #fff; border: 2px solid #111827; }
.legend .chip { white-space: nowrap; }
.empty { color: var(--muted); font-style: italic; }
#bs-js-errors:not(:empty) { margin: 10px 0; padding: 8px 12px; background: var(--bad-bg); color: var(--bad);
  border: 1px solid #f3c0c6; border-radius: 6px; }
footer { color: var(--muted); font-size: 12px; margin-top: 10px; }
.tl-print { display: none; }
@media print {
  html, body { background: #fff; }
  .page { max-width: none; padding: 0; }
  section.stream { box-shadow: none; border: none; padding: 0; }
  .tl-toolbar button, .tl-player button, .tl-hint, .tooltip, .tl-focus, audio { display: none !important; }
  .tl-scroll { overflow: visible !important; }
  .tl-spacer { width: 100% !important; height: auto !important; }
  .tl-spacer canvas { position: static !important; width: 100% !important; height: auto !important; }
  .tl-overview .ov-window { display: none; }
  .tl-body, .tl-overview, .legend { break-inside: avoid; }
  .timeline.printable .tl-body { display: none !important; }  /* the strips show it all instead */
  .tl-print { display: block; }
  .tl-print-row { break-inside: avoid; margin: 0 0 8px; }
  .tl-print-cap { font-size: 11px; color: var(--muted); font-variant-numeric: tabular-nums; margin-bottom: 2px; }
  .tl-print canvas { display: block; width: 100% !important; height: auto !important; border: 1px solid var(--line); }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""

JS = r"""
(function () {
  "use strict";
  var errors = document.getElementById("bs-js-errors");
  function reportError(text) {
    var div = document.createElement("div");
    div.className = "bs-js-error";
    div.textContent = "JavaScript error: " + text;
    errors.appendChild(div);
    document.body.setAttribute("data-bs-error", "1");
  }
  window.onerror = function (msg, src, line, col) {
    reportError(String(msg) + " (line " + line + ":" + col + ")");
  };

  var ROW_H = 26, LANE_PAD = 8, AXIS_H = 26, OV_H = 40, MAX_PX_PER_SEC = 400, LONG = 600, DETAIL = 300;
  var PLAYHEAD = "#e11d48";
  var PRINT_W = 860, PRINT_NAMES = 120, PRINT_ONE = 300, PRINT_MAX = 24, PRINT_MAX_H = 880, PRINT_PARTS = [120, 300, 600, 900, 1800, 3600];
  var data = JSON.parse(document.getElementById("bs-data").textContent);
  var labels = data.labels, colors = data.colors, inks = data.inks, levelNames = data.levels;
  function play(audio) {  // a refused play() (autoplay policy) is not an error
    var p = audio.play();
    if (p && p.catch) p.catch(function () { /* refused */ });
  }

  function fmtTime(t, step) {
    var neg = t < 0; t = Math.abs(t);
    var h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
    var frac = step !== undefined && step < 1 ? (step < 0.1 ? 2 : 1) : 0;
    var ss = s.toFixed(frac);
    if (parseFloat(ss) >= 60) { ss = (0).toFixed(frac); m += 1; if (m >= 60) { m = 0; h += 1; } }
    if (ss.indexOf(".") === 1 || ss.length === 1) ss = "0" + ss;
    return (neg ? "-" : "") + (h > 0 ? h + ":" + (m < 10 ? "0" : "") + m : String(m)) + ":" + ss;
  }
  function fmtPost(raw) {
    if (raw === null || raw === undefined) return "—";
    if (raw === "") return "(empty)";
    return raw;
  }
  function postValue(raw) {
    if (raw === null || raw === undefined) return null;
    var v = parseFloat(String(raw).trim().replace(",", "."));
    return isFinite(v) ? v : null;
  }
  function labelText(i) { return labels[i] === "" ? "(no label)" : labels[i]; }
  // confidence as opacity: a 0.51 posterior is pale, a 0.99 one solid
  function alphaOf(conf) { return conf === null || conf === undefined ? 1 : 0.22 + 0.78 * conf * conf; }
  var STEPS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800];
  function tickStep(pxPerSec) {
    for (var i = 0; i < STEPS.length; i++) if (STEPS[i] * pxPerSec >= 90) return STEPS[i];
    return STEPS[STEPS.length - 1];
  }
  function spanName(stream, s) {
    var lane = stream.lanes[s[0]], lvl = levelNames[s[1]];
    var name = (lane.channel ? lane.channel + " " : "") + (lane.task || "(no task)") + " " + labelText(s[4]);
    if (s[7] !== null && s[7] !== undefined) name += " " + s[7].toFixed(2);
    return name + ", " + s[2].toFixed(1) + "–" + s[3].toFixed(1) + " s" + (lvl ? ", " + lvl : "");
  }

  var tooltip = document.createElement("div");
  tooltip.className = "tooltip";
  tooltip.setAttribute("role", "tooltip");
  tooltip.style.display = "none";
  document.body.appendChild(tooltip);

  function predRow(span, p) {
    var tr = document.createElement("tr");
    if (p[0] === span[4]) tr.className = "final";
    var td1 = document.createElement("td");
    var sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = colors[p[0]];
    td1.appendChild(sw);
    td1.appendChild(document.createTextNode(labelText(p[0])));
    var td2 = document.createElement("td");
    td2.className = "num";
    td2.textContent = fmtPost(p[1]);
    var td3 = document.createElement("td");
    td3.style.width = "70px";
    var v = postValue(p[1]);
    if (v !== null) {
      var bar = document.createElement("div");
      bar.className = "bar";
      bar.style.width = Math.max(0, Math.min(1, v)) * 100 + "%";
      td3.appendChild(bar);
    }
    tr.appendChild(td1); tr.appendChild(td2); tr.appendChild(td3);
    return tr;
  }
  function showTooltip(stream, span, x, y) {
    var lane = stream.lanes[span[0]];
    tooltip.textContent = "";
    var head = document.createElement("div");
    head.className = "tt-head";
    head.textContent = (lane.channel ? lane.channel + " · " : "") + lane.task + ": " + labelText(span[4]);
    tooltip.appendChild(head);
    var time = document.createElement("div");
    time.className = "tt-time";
    var lvl = levelNames[span[1]];
    time.textContent = fmtTime(span[2], 0.01) + " – " + fmtTime(span[3], 0.01) +
      (lvl ? " · " + lvl : "") + (span[6] ? " · id " + span[6] : "");
    tooltip.appendChild(time);
    if (span[5].length) {
      var table = document.createElement("table");
      span[5].forEach(function (p) { table.appendChild(predRow(span, p)); });
      tooltip.appendChild(table);
    }
    tooltip.style.display = "block";
    var w = tooltip.offsetWidth, h = tooltip.offsetHeight;
    var left = x + 14, top = y + 14;
    if (left + w > window.innerWidth - 8) left = Math.max(8, x - w - 14);
    if (top + h > window.innerHeight - 8) top = Math.max(8, y - h - 14);
    tooltip.style.left = left + "px";
    tooltip.style.top = top + "px";
  }
  function hideTooltip() { tooltip.style.display = "none"; }

  function firstFrom(spans, from) {
    var lo = 0, hi = spans.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (spans[mid][2] < from) lo = mid + 1; else hi = mid; }
    return lo;
  }

  function Timeline(root, stream) {
    this.root = root; this.stream = stream;
    this.names = root.querySelector(".tl-names");
    this.scroll = root.querySelector(".tl-scroll");
    this.spacer = root.querySelector(".tl-spacer");
    this.canvas = root.querySelector(".tl-spacer canvas");
    this.focusEl = root.querySelector(".tl-focus");
    this.ovWrap = root.querySelector(".tl-overview");
    this.ovImg = this.ovWrap.querySelector(".ov-img");
    this.ovWindow = this.ovWrap.querySelector(".ov-window");
    this.ovHead = this.ovWrap.querySelector(".ov-head");
    this.rangeEl = root.querySelector(".tl-range");
    this.ctx = this.canvas.getContext("2d");
    this.audio = stream.audio ? document.getElementById(stream.audio) : null;
    this.extent = Math.max(stream.extent, stream.waveSeconds || 0, 1);
    this.focus = null;
    this.buildRows();
    this.buildNames();
    this.resize();
    if (this.extent > LONG) this.setScale(this.viewWidth / DETAIL, 0, 0); else this.setScale(0, 0, 0);
    this.bindView();
    this.bindFocus();
    if (this.audio) this.bindAudio();
  }
  Timeline.prototype.buildRows = function () {
    var y = AXIS_H, rows = [];
    this.stream.lanes.forEach(function (lane, li) {
      lane.top = y;
      y += LANE_PAD / 2;
      lane.levels.forEach(function (lv) {
        rows.push({ lane: li, level: lv, y: y, spans: [], maxDur: 0, utt: levelNames[lv] === "utterance" });
        y += ROW_H;
      });
      y += LANE_PAD / 2;
      lane.height = y - lane.top;
    });
    this.height = y;
    this.rows = rows;
    var rowIndex = {};
    rows.forEach(function (r, i) { rowIndex[r.lane + ":" + r.level] = i; });
    this.stream.spans.forEach(function (s) {
      var r = rows[rowIndex[s[0] + ":" + s[1]]];
      r.spans.push(s);
      if (s[3] - s[2] > r.maxDur) r.maxDur = s[3] - s[2];
    });
    rows.forEach(function (r) { r.spans.sort(function (a, b) { return a[2] - b[2] || a[3] - b[3]; }); });
  };
  Timeline.prototype.bindView = function () {
    var self = this;
    this.scroll.addEventListener("scroll", function () { self.draw(); });
    window.addEventListener("resize", function () {
      var fitted = self.isFit; self.resize(); if (fitted) self.fit(); else self.setScale(self.pxPerSec);
    });
    this.scroll.addEventListener("wheel", function (ev) {
      if (!(ev.ctrlKey || ev.metaKey)) return;
      ev.preventDefault();
      var rect = self.scroll.getBoundingClientRect();
      self.zoomAt(ev.deltaY < 0 ? 1.25 : 0.8, ev.clientX - rect.left);
    }, { passive: false });
    this.canvas.addEventListener("mousemove", function (ev) { self.hover(ev); });
    this.canvas.addEventListener("mouseleave", hideTooltip);
    this.canvas.addEventListener("click", function (ev) { self.click(ev); });
    this.root.querySelector(".zoom-in").addEventListener("click", function () { self.zoomAt(2, self.viewWidth / 2); });
    this.root.querySelector(".zoom-out").addEventListener("click", function () { self.zoomAt(0.5, self.viewWidth / 2); });
    this.root.querySelector(".zoom-fit").addEventListener("click", function () { self.fit(); });
    var dragging = false;
    function move(ev) {
      var rect = self.ovWrap.getBoundingClientRect();
      self.centerOn((ev.clientX - rect.left) / rect.width * self.extent);
    }
    this.ovWrap.addEventListener("pointerdown", function (ev) {
      dragging = true;
      if (self.ovWrap.setPointerCapture && ev.pointerId !== undefined) {
        try { self.ovWrap.setPointerCapture(ev.pointerId); } catch (e) { /* synthetic events */ }
      }
      move(ev);
    });
    this.ovWrap.addEventListener("pointermove", function (ev) { if (dragging) move(ev); });
    this.ovWrap.addEventListener("pointerup", function () { dragging = false; });
    this.ovWrap.addEventListener("click", move);
    this.ovWrap.addEventListener("keydown", function (ev) {
      var span = (self.viewWidth / self.pxPerSec) / 2;
      if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
        ev.preventDefault();
        self.scroll.scrollLeft += (ev.key === "ArrowRight" ? span : -span) * self.pxPerSec;
      }
    });
  };
  Timeline.prototype.buildNames = function () {
    var names = this.names;
    var gap = document.createElement("div");
    gap.className = "axis-gap";
    gap.style.height = AXIS_H + "px";
    names.appendChild(gap);
    var lanes = this.stream.lanes;
    lanes.forEach(function (lane, li) {
      var div = document.createElement("div");
      div.className = "lane";
      div.setAttribute("data-task", lane.task);
      if (lane.channel) div.setAttribute("data-channel", lane.channel);
      div.setAttribute("data-spans", String(lane.count));
      if (li > 0 && lane.channel !== lanes[li - 1].channel) div.className += " ch-start";
      div.style.height = lane.height + "px";
      var head = document.createElement("div");
      head.className = "lane-head";
      if (lane.channel) {
        var ch = document.createElement("div");
        ch.className = "lane-ch";
        ch.textContent = lane.channel;
        head.appendChild(ch);
      }
      var t = document.createElement("div");
      t.className = "lane-task";
      t.textContent = lane.task === "" ? "(no task)" : lane.task;
      t.title = (lane.channel ? lane.channel + " · " : "") + lane.task;
      head.appendChild(t);
      div.appendChild(head);
      var lv = document.createElement("div");
      lv.className = "lane-levels";
      lane.levels.forEach(function (i) {
        var name = levelNames[i] || "";
        var row = document.createElement("div");
        row.className = "lane-level" + (name === "utterance" ? " utt" : "");
        row.style.height = ROW_H + "px";
        row.title = name || "no level";
        var long = document.createElement("span");
        long.className = "long";
        long.textContent = name;
        var short = document.createElement("span");
        short.className = "short";
        short.textContent = name === "utterance" ? "utt" : name === "segment" ? "seg" : name.slice(0, 4);
        row.appendChild(long); row.appendChild(short);
        lv.appendChild(row);
      });
      div.appendChild(lv);
      names.appendChild(div);
    });
  };
  Timeline.prototype.resize = function () {
    this.viewWidth = Math.max(40, this.scroll.clientWidth);
    var dpr = window.devicePixelRatio || 1;
    this.dpr = dpr;
    this.canvas.width = Math.round(this.viewWidth * dpr);
    this.canvas.height = Math.round(this.height * dpr);
    this.canvas.style.width = this.viewWidth + "px";
    this.canvas.style.height = this.height + "px";
    var ovWidth = Math.max(40, this.ovWrap.clientWidth);
    if (ovWidth !== this.ovWidth) { this.ovWidth = ovWidth; this.ovBase = null; }
  };
  Timeline.prototype.setScale = function (pxPerSec, anchorTime, anchorX) {
    var fitScale = this.viewWidth / this.extent;
    this.pxPerSec = Math.max(fitScale, Math.min(MAX_PX_PER_SEC, pxPerSec));
    this.isFit = this.pxPerSec <= fitScale * 1.0001;
    this.spacer.style.width = (this.isFit ? this.viewWidth : Math.ceil(this.extent * this.pxPerSec)) + "px";
    this.spacer.style.height = this.height + "px";
    if (anchorTime !== undefined) this.scroll.scrollLeft = Math.max(0, anchorTime * this.pxPerSec - anchorX);
    this.draw();
  };
  Timeline.prototype.fit = function () {
    this.resize();
    this.setScale(0, 0, 0);
  };
  Timeline.prototype.zoomAt = function (factor, x) {
    var t = (this.scroll.scrollLeft + x) / this.pxPerSec;
    this.setScale(this.pxPerSec * factor, t, x);
  };
  Timeline.prototype.centerOn = function (t) {
    this.scroll.scrollLeft = Math.max(0, t * this.pxPerSec - this.viewWidth / 2);
    this.draw();
  };
  Timeline.prototype.view = function () {
    var x0 = this.scroll.scrollLeft;
    return { x0: x0, t0: x0 / this.pxPerSec, t1: Math.min(this.extent, (x0 + this.viewWidth) / this.pxPerSec),
      pps: this.pxPerSec, W: this.viewWidth };
  };
  Timeline.prototype.draw = function () {
    var ctx = this.ctx, v = this.view();
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    this.paint(ctx, v);
    this.drawPlayhead(ctx, this.height, v);
    this.rangeEl.textContent = fmtTime(Math.max(0, v.t0), 0.1) + " – " + fmtTime(v.t1, 0.1) +
      " of " + fmtTime(this.extent, 0.1);
    this.placeFocus();
    this.drawOverview(v);
  };
  // the lanes, the axis and the bars of the view v ({x0, t0, t1, pps, W}) into ctx
  Timeline.prototype.paint = function (ctx, v) {
    var W = v.W, H = this.height;
    ctx.clearRect(0, 0, W, H);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, W, H);
    this.drawLanes(ctx, W);
    this.drawAxis(ctx, W, H, v);
    var self = this;
    this.rows.forEach(function (row) { self.drawRow(ctx, row, v); });
  };
  Timeline.prototype.drawLanes = function (ctx, W) {
    var lanes = this.stream.lanes;
    lanes.forEach(function (lane, i) {
      ctx.fillStyle = i % 2 ? "#fafbfc" : "#ffffff";
      ctx.fillRect(0, lane.top, W, lane.height);
      ctx.fillStyle = "#e1e5eb";
      ctx.fillRect(0, lane.top + lane.height - 1, W, 1);
      if (i > 0 && lane.channel !== lanes[i - 1].channel) {  // a new channel's group
        ctx.fillStyle = "#2f5dd0";
        ctx.fillRect(0, lane.top, W, 2);
      }
    });
    this.rows.forEach(function (row) {
      if (!row.utt) return;
      ctx.fillStyle = "rgba(47,93,208,0.05)";
      ctx.fillRect(0, row.y, W, ROW_H);
    });
  };
  Timeline.prototype.drawAxis = function (ctx, W, H, v) {
    var pps = v.pps, step = tickStep(pps);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.fillStyle = "#f3f5f8";
    ctx.fillRect(0, 0, W, AXIS_H);
    ctx.fillStyle = "#e1e5eb";
    ctx.fillRect(0, AXIS_H - 1, W, 1);
    var first = Math.floor(v.t0 / step) * step;
    for (var t = first; t <= v.t1 + step; t += step) {
      var x = Math.round(t * pps - v.x0) + 0.5;
      if (x < -50 || x > W + 50) continue;
      ctx.fillStyle = "#edf0f4";
      ctx.fillRect(x, AXIS_H, 1, H - AXIS_H);
      ctx.fillStyle = "#9aa4b2";
      ctx.fillRect(x, AXIS_H - 7, 1, 6);
      ctx.fillStyle = "#5d6675";
      ctx.fillText(fmtTime(Math.round(t / step) * step, step), x + 4, AXIS_H / 2);
    }
  };
  Timeline.prototype.drawRow = function (ctx, row, v) {
    var spans = row.spans, pps = v.pps, lastX = -1;
    ctx.textBaseline = "middle";
    for (var i = firstFrom(spans, v.t0 - row.maxDur); i < spans.length; i++) {
      var s = spans[i];
      if (s[2] > v.t1) break;
      if (s[3] < v.t0) continue;
      var xa = s[2] * pps - v.x0, xb = s[3] * pps - v.x0;
      var w = Math.max(1, xb - xa - (xb - xa > 4 ? 1 : 0));
      if (w < 1.5 && Math.floor(xa) === lastX) continue;
      lastX = Math.floor(xa);
      var alpha = alphaOf(s[7]);
      ctx.globalAlpha = alpha;
      ctx.fillStyle = colors[s[4]];
      ctx.fillRect(xa, row.y + 2, w, ROW_H - 4);
      ctx.globalAlpha = 1;
      if (row.utt && w > 3) {
        ctx.strokeStyle = "rgba(17,24,39,0.7)";
        ctx.lineWidth = 1.5;
        ctx.strokeRect(xa + 0.75, row.y + 2.75, w - 1.5, ROW_H - 5.5);
      }
      if (w > 24) this.drawText(ctx, s, xa, w, row.y, alpha);
    }
  };
  Timeline.prototype.drawText = function (ctx, s, xa, w, y, alpha) {
    var text = labels[s[4]];
    var tx = Math.max(xa, 0) + 4, avail = xa + w - tx - 3;
    if (avail <= 14 || text === "") return;
    var shown = text;
    if (ctx.measureText(shown).width > avail) {
      while (shown.length > 1 && ctx.measureText(shown + "…").width > avail) shown = shown.slice(0, -1);
      shown += "…";
    }
    if (ctx.measureText(shown).width > avail) return;
    ctx.fillStyle = alpha < 0.6 ? "#111827" : inks[s[4]];
    ctx.fillText(shown, tx, y + ROW_H / 2);
  };
  Timeline.prototype.drawPlayhead = function (ctx, H, v) {
    if (!this.audio) return;
    var x = Math.round(this.audio.currentTime * this.pxPerSec - v.x0);
    if (x < -2 || x > this.viewWidth + 2) return;
    ctx.fillStyle = PLAYHEAD;
    ctx.fillRect(x - 1, 0, 2, H);
    ctx.beginPath();
    ctx.moveTo(x - 6, 0); ctx.lineTo(x + 6, 0); ctx.lineTo(x, 8);
    ctx.fill();
  };
  Timeline.prototype.overviewBase = function () {
    var c = document.createElement("canvas"), W = this.ovWidth, dpr = this.dpr;
    c.width = Math.round(W * dpr); c.height = Math.round(OV_H * dpr);
    var ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#f3f5f8";
    ctx.fillRect(0, 0, W, OV_H);
    var wave = this.stream.wave, extent = this.extent;
    if (wave && wave.length) {
      var secs = this.stream.waveSeconds || extent, bw = W * secs / extent / wave.length;
      ctx.fillStyle = "#7c8aa0";
      for (var i = 0; i < wave.length; i++) {
        var h = Math.max(1, wave[i] / 100 * (OV_H - 4));
        ctx.fillRect(i * bw, (OV_H - h) / 2, Math.max(1, bw - (bw > 3 ? 0.5 : 0)), h);
      }
      return c;
    }
    var n = this.rows.length, rh = Math.max(1, Math.min(6, (OV_H - 4) / Math.max(1, n)));
    this.rows.forEach(function (row, r) {
      row.spans.forEach(function (s) {
        ctx.globalAlpha = alphaOf(s[7]);
        ctx.fillStyle = colors[s[4]];
        ctx.fillRect(s[2] / extent * W, 2 + r * rh, Math.max(0.5, (s[3] - s[2]) / extent * W), rh);
      });
    });
    ctx.globalAlpha = 1;
    return c;
  };
  Timeline.prototype.drawOverview = function (v) {
    if (!this.ovBase) {
      this.ovBase = this.overviewBase();
      this.ovImg.style.backgroundImage = "url(" + this.ovBase.toDataURL("image/png") + ")";
    }
    var k = 100 / this.extent;
    this.ovWindow.style.left = v.t0 * k + "%";
    this.ovWindow.style.width = Math.max(0.5, (v.t1 - v.t0) * k) + "%";
    if (this.audio) {
      this.ovHead.style.display = "block";
      this.ovHead.style.left = Math.min(100, this.audio.currentTime * k) + "%";
    }
    this.ovWrap.setAttribute("aria-valuenow", v.t0.toFixed(1));
    this.ovWrap.setAttribute("aria-valuetext", fmtTime(v.t0, 0.1) + " to " + fmtTime(v.t1, 0.1));
  };
  Timeline.prototype.spanAt = function (x, y) {
    var t = (this.scroll.scrollLeft + x) / this.pxPerSec, tol = 2 / this.pxPerSec;
    var row = null;
    for (var i = 0; i < this.rows.length; i++) {
      if (y >= this.rows[i].y && y < this.rows[i].y + ROW_H) { row = this.rows[i]; break; }
    }
    if (!row) return null;
    var best = null, spans = row.spans;
    for (var j = firstFrom(spans, t - row.maxDur - tol); j < spans.length && spans[j][2] <= t + tol; j++) {
      var s = spans[j];
      if (s[2] - tol <= t && t <= s[3] + tol && (!best || s[3] - s[2] < best[3] - best[2])) best = s;
    }
    return best ? { row: row, span: best, index: spans.indexOf(best) } : null;
  };
  Timeline.prototype.hover = function (ev) {
    var rect = this.canvas.getBoundingClientRect();
    var hit = this.spanAt(ev.clientX - rect.left, ev.clientY - rect.top);
    if (hit) showTooltip(this.stream, hit.span, ev.clientX, ev.clientY); else hideTooltip();
  };
  Timeline.prototype.click = function (ev) {
    var rect = this.canvas.getBoundingClientRect();
    var x = ev.clientX - rect.left, hit = this.spanAt(x, ev.clientY - rect.top);
    if (hit) {
      this.setFocus(hit.row, hit.index, true);
      this.seek(hit.span[2]);
    } else {
      this.seek((this.scroll.scrollLeft + x) / this.pxPerSec);
    }
  };

  // -- keyboard: one focusable element walks the bars (a roving focus) ---------------------
  Timeline.prototype.bindFocus = function () {
    var self = this, el = this.focusEl;
    el.addEventListener("focus", function () {
      if (!self.focus) self.focusNear(self.audio ? self.audio.currentTime : self.view().t0, 0);
      else self.setFocus(self.focus.row, self.focus.index, false);
    });
    el.addEventListener("blur", hideTooltip);
    el.addEventListener("keydown", function (ev) { self.focusKey(ev); });
  };
  Timeline.prototype.focusKey = function (ev) {
    var f = this.focus;
    if (!f) return;
    var r = this.rows.indexOf(f.row), moves = {
      ArrowRight: function () { return [r, f.index + 1]; },
      ArrowLeft: function () { return [r, f.index - 1]; },
      Home: function () { return [r, 0]; },
      End: function () { return [r, f.row.spans.length - 1]; }
    };
    if (moves[ev.key]) {
      ev.preventDefault();
      var to = moves[ev.key]();
      if (to[1] >= 0 && to[1] < f.row.spans.length) this.setFocus(f.row, to[1], true);
    } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      this.focusRow(r, ev.key === "ArrowDown" ? 1 : -1, f.row.spans[f.index][2]);
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      this.seek(f.row.spans[f.index][2]);
      if (this.audio) play(this.audio);
    }
  };
  Timeline.prototype.focusRow = function (r, dir, t) {
    for (var i = r + dir; i >= 0 && i < this.rows.length; i += dir) {
      if (!this.rows[i].spans.length) continue;
      var spans = this.rows[i].spans, j = Math.min(spans.length - 1, firstFrom(spans, t));
      if (j > 0 && Math.abs(spans[j - 1][2] - t) <= Math.abs(spans[j][2] - t)) j -= 1;
      this.setFocus(this.rows[i], j, true);
      return;
    }
  };
  Timeline.prototype.focusNear = function (t, r) {
    for (var i = r; i < this.rows.length; i++) {
      if (this.rows[i].spans.length) {
        var spans = this.rows[i].spans, j = firstFrom(spans, t - this.rows[i].maxDur);
        while (j < spans.length - 1 && spans[j][3] < t) j++;
        this.setFocus(this.rows[i], Math.min(j, spans.length - 1), true);
        return;
      }
    }
  };
  Timeline.prototype.setFocus = function (row, index, moved) {
    this.focus = { row: row, index: index };
    var s = row.spans[index], v = this.view();
    if (moved && (s[2] < v.t0 || s[2] > v.t1)) {
      this.scroll.scrollLeft = Math.max(0, s[2] * this.pxPerSec - this.viewWidth / 4);
    }
    this.focusEl.setAttribute("aria-label", spanName(this.stream, s));
    this.focusEl.setAttribute("data-start", String(s[2]));
    this.draw();
    if (document.activeElement !== this.focusEl) this.focusEl.focus({ preventScroll: true });
    if (this.audio && this.audio.paused && moved) this.seek(s[2]);
    var rect = this.focusEl.getBoundingClientRect();
    showTooltip(this.stream, s, rect.left, rect.bottom - 10);
  };
  Timeline.prototype.placeFocus = function () {
    var el = this.focusEl, f = this.focus;
    if (!f) { el.style.left = "0px"; el.style.top = AXIS_H + "px"; el.style.width = "1px"; el.style.height = ROW_H + "px"; return; }
    var s = f.row.spans[f.index], pps = this.pxPerSec;
    var left = Math.max(0, Math.min(s[2] * pps, this.extent * pps - 4));
    el.style.left = left + "px";
    el.style.width = Math.max(4, (s[3] - s[2]) * pps) + "px";
    el.style.top = f.row.y + 1 + "px";
    el.style.height = ROW_H - 2 + "px";
  };

  // -- print: the whole recording in full-width strips, one under the other ---------------
  // A strip is one image: the lane names, then the lanes of its part of the time, on one time
  // scale for every strip (the last one may end early). Up to 5 minutes: one strip; longer:
  // parts of 2, 5, 10, 15, 30 or 60 minutes, the shortest giving at most 24 strips.
  Timeline.prototype.printRows = function () {
    if (this.extent <= PRINT_ONE) return [this.extent, 1];
    for (var i = 0; i < PRINT_PARTS.length; i++) {
      if (Math.ceil(this.extent / PRINT_PARTS[i] - 1e-9) <= PRINT_MAX) return [PRINT_PARTS[i], Math.ceil(this.extent / PRINT_PARTS[i] - 1e-9)];
    }
    var part = Math.ceil(this.extent / PRINT_MAX / 60) * 60;
    return [part, Math.ceil(this.extent / part - 1e-9)];
  };
  // lanes in groups that fit a page: all of them when they fit, else split at channels and height
  Timeline.prototype.printGroups = function () {
    var lanes = this.stream.lanes, groups = [], g = null, all = this.height - AXIS_H > PRINT_MAX_H;
    lanes.forEach(function (lane, li) {
      var newChannel = li > 0 && lane.channel !== lanes[li - 1].channel;
      if (!g || g.h + lane.height > PRINT_MAX_H || (all && newChannel)) {
        g = { first: li, last: li, top: lane.top, h: 0 };
        groups.push(g);
      }
      g.last = li; g.h += lane.height;
    });
    return groups.length ? groups : [{ first: 0, last: -1, top: AXIS_H, h: 0 }];
  };
  Timeline.prototype.buildPrint = function () {
    if (this.printEl) return;
    var plan = this.printRows(), part = plan[0], n = plan[1], W = PRINT_W - PRINT_NAMES, dpr = 2;
    var groups = this.printGroups(), lanes = this.stream.lanes;
    var box = document.createElement("div");
    box.className = "tl-print";
    for (var i = 0; i < n; i++) {
      var t0 = i * part, t1 = Math.min(this.extent, t0 + part), pps = W / part;
      var v = { x0: t0 * pps, t0: t0, t1: t1, pps: pps, W: W };
      for (var k = 0; k < groups.length; k++) {
        var g = groups[k], row = document.createElement("div");
        row.className = "tl-print-row";
        var cap = document.createElement("div");
        cap.className = "tl-print-cap";
        cap.textContent = (n > 1 ? "Part " + (i + 1) + " of " + n + ": " : "") + fmtTime(t0, 0.1) + " – " +
          fmtTime(t1, 0.1) + " of " + fmtTime(this.extent, 0.1) +
          (groups.length > 1 ? " · lanes " + (g.first + 1) + "–" + (g.last + 1) + " of " + lanes.length : "");
        var c = document.createElement("canvas"), H = AXIS_H + g.h;
        c.width = PRINT_W * dpr; c.height = Math.round(H * dpr);
        c.setAttribute("aria-hidden", "true");
        var ctx = c.getContext("2d");
        ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
        // the group's lanes, moved up under the axis
        ctx.save();
        ctx.translate(0, AXIS_H - g.top);
        ctx.beginPath(); ctx.rect(0, g.top, PRINT_W, g.h); ctx.clip();
        this.paintNames(ctx);
        ctx.translate(PRINT_NAMES, 0);
        ctx.beginPath(); ctx.rect(0, g.top, W, g.h); ctx.clip();
        this.paint(ctx, v);
        if (t1 < t0 + part) {  // after the end of the recording
          ctx.fillStyle = "#f3f5f8";
          ctx.fillRect((t1 - t0) * pps, AXIS_H, W, this.height - AXIS_H);
        }
        ctx.restore();
        // the time axis on top of every strip
        ctx.save();
        ctx.beginPath(); ctx.rect(0, 0, PRINT_W, AXIS_H); ctx.clip();
        this.paintNames(ctx);
        ctx.translate(PRINT_NAMES, 0);
        ctx.fillStyle = "#ffffff";
        ctx.fillRect(0, 0, W, AXIS_H);
        this.drawAxis(ctx, W, AXIS_H, v);
        ctx.restore();
        row.appendChild(cap); row.appendChild(c);
        box.appendChild(row);
      }
    }
    this.root.querySelector(".tl-body").insertAdjacentElement("afterend", box);
    this.printEl = box;
    this.root.className += " printable";
  };
  function fitText(ctx, text, avail) {  // text cut with an ellipsis to fit avail px
    if (ctx.measureText(text).width <= avail) return text;
    while (text.length > 1 && ctx.measureText(text + "…").width > avail) text = text.slice(0, -1);
    return text + "…";
  }
  Timeline.prototype.paintNames = function (ctx) {  // the names column of a print strip
    var rows = this.rows, H = this.height;
    ctx.fillStyle = "#fbfcfd";
    ctx.fillRect(0, 0, PRINT_NAMES, H);
    ctx.fillStyle = "#e1e5eb";
    ctx.fillRect(PRINT_NAMES - 1, 0, 1, H);
    ctx.fillRect(0, AXIS_H - 1, PRINT_NAMES, 1);
    ctx.textBaseline = "middle";
    this.stream.lanes.forEach(function (lane, li) {
      ctx.fillStyle = "#e1e5eb";
      ctx.fillRect(0, lane.top + lane.height - 1, PRINT_NAMES, 1);
      var own = rows.filter(function (r) { return r.lane === li; });
      var y = own.length ? own[0].y + ROW_H / 2 : lane.top + lane.height / 2;
      if (lane.channel) {  // the channel above the task, as beside the lanes on screen
        ctx.font = "650 10px system-ui, sans-serif";
        ctx.fillStyle = "#2f5dd0";
        ctx.fillText(fitText(ctx, lane.channel, PRINT_NAMES - 38), 6, y - 6);
        y += 6;
      }
      ctx.font = "600 12px system-ui, sans-serif";
      ctx.fillStyle = "#1d2430";
      ctx.fillText(fitText(ctx, lane.task === "" ? "(no task)" : lane.task, PRINT_NAMES - 38), 6, y);
      ctx.font = "11px system-ui, sans-serif";
      ctx.fillStyle = "#5d6675";
      own.forEach(function (r) {
        var lv = levelNames[r.level] || "";
        var short = lv === "utterance" ? "utt" : lv === "segment" ? "seg" : lv.slice(0, 4);
        ctx.fillText(short, PRINT_NAMES - 30, r.y + ROW_H / 2);
      });
    });
  };

  // -- audio --------------------------------------------------------------------------------
  Timeline.prototype.bindAudio = function () {
    var self = this, audio = this.audio, button = this.root.querySelector(".play");
    this.clock = this.root.querySelector(".tl-clock");
    var frame = null;
    function tick() {
      self.follow();
      frame = audio.paused ? null : window.requestAnimationFrame(tick);
    }
    button.addEventListener("click", function () { if (audio.paused) play(audio); else audio.pause(); });
    audio.addEventListener("play", function () {
      button.textContent = "❚❚"; button.setAttribute("aria-label", "Pause");
      if (frame === null) frame = window.requestAnimationFrame(tick);
    });
    audio.addEventListener("pause", function () {
      button.textContent = "▶"; button.setAttribute("aria-label", "Play"); self.draw();
    });
    ["timeupdate", "seeked", "loadedmetadata", "durationchange"].forEach(function (name) {
      audio.addEventListener(name, function () { self.draw(); self.updateClock(); });
    });
    this.updateClock();
  };
  Timeline.prototype.updateClock = function () {
    var d = this.audio.duration;
    this.clock.textContent = fmtTime(this.audio.currentTime, 0.1) + " / " + fmtTime(isFinite(d) ? d : this.extent, 0.1);
  };
  Timeline.prototype.follow = function () {
    var t = this.audio.currentTime, v = this.view();
    if (!this.isFit && (t < v.t0 || t > v.t1 - (v.t1 - v.t0) * 0.05)) {
      this.scroll.scrollLeft = Math.max(0, t * this.pxPerSec - this.viewWidth * 0.1);
    }
    this.draw();
    this.updateClock();
  };
  Timeline.prototype.seek = function (t) {
    if (!this.audio) return;
    this.audio.currentTime = Math.max(0, Math.min(t, this.extent));
    this.draw();
    this.updateClock();
  };

  var timelines = [];
  data.streams.forEach(function (stream, i) {
    var root = document.getElementById("timeline-" + i);
    if (!root) return;
    try {
      timelines.push(new Timeline(root, stream));
      root.setAttribute("data-rendered", "1");
    } catch (e) {
      reportError((e && e.stack) || String(e));
    }
  });
  // Space plays or pauses the audio of the timeline holding the focus (else the first one)
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== " " || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var tag = ev.target && ev.target.tagName;
    if (tag === "BUTTON" || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || tag === "A") return;
    var active = document.activeElement, tl = null;
    timelines.forEach(function (t) { if (!tl && t.audio && t.root.contains(active)) tl = t; });
    timelines.forEach(function (t) { if (!tl && t.audio) tl = t; });
    if (!tl) return;
    ev.preventDefault();
    if (tl.audio.paused) play(tl.audio); else tl.audio.pause();
  });
  // print: every timeline shows the whole recording (fitted on screen, in strips on paper)
  function fitAll() {
    timelines.forEach(function (t) {
      t.fit();
      try { t.buildPrint(); } catch (e) { reportError((e && e.stack) || String(e)); }
    });
  }
  window.addEventListener("beforeprint", fitAll);
  if (window.matchMedia) {
    var mq = window.matchMedia("print");
    var onChange = function (e) { if (e.matches) fitAll(); };
    if (mq.addEventListener) mq.addEventListener("change", onChange); else if (mq.addListener) mq.addListener(onChange);
  }
  window.bsTimelines = timelines;
  document.body.setAttribute("data-bs-rendered", String(timelines.length));
})();
"""
