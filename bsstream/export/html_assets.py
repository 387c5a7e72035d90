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
header.report { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap;
  border-bottom: 1px solid var(--line); padding-bottom: 10px; margin-bottom: 16px; }
header.report h1 { font-size: 20px; margin: 0; font-weight: 650; letter-spacing: .2px; }
header.report .brand { color: var(--accent); }
.meta { color: var(--muted); display: flex; gap: 18px; flex-wrap: wrap; }
.meta b { color: var(--ink); font-weight: 600; }
section.stream { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 16px 18px 18px; margin-bottom: 22px; box-shadow: 0 1px 2px rgba(20,30,50,.04); }
section.stream h2 { font-size: 17px; margin: 0 0 4px; word-break: break-all; }
.verdict { display: flex; align-items: center; gap: 14px; margin: 12px 0 4px; padding: 12px 16px;
  border-radius: 8px; border: 1px solid; }
.verdict .v-title { font-size: 12px; text-transform: uppercase; letter-spacing: .8px; opacity: .85; }
.verdict .v-label { font-size: 26px; font-weight: 750; line-height: 1.1; word-break: break-word; }
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
.tl-toolbar { display: flex; align-items: center; gap: 8px; margin-bottom: 6px; color: var(--muted); }
.tl-toolbar button { font: inherit; border: 1px solid var(--line); background: #fff; border-radius: 6px;
  padding: 2px 10px; cursor: pointer; color: var(--ink); }
.tl-toolbar button:hover { background: var(--neutral-bg); }
.tl-toolbar .tl-range { margin-left: auto; font-variant-numeric: tabular-nums; }
.tl-body { display: flex; border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
.tl-names { flex: 0 0 160px; border-right: 1px solid var(--line); background: #fbfcfd; }
.tl-names .axis-gap { border-bottom: 1px solid var(--line); }
.lane { display: flex; flex-direction: column; justify-content: center; padding: 0 10px;
  border-bottom: 1px solid var(--line); overflow: hidden; }
.lane .lane-task { font-weight: 600; line-height: 1.2; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.lane .lane-levels { font-size: 11px; line-height: 1.2; color: var(--muted); white-space: nowrap; }
.tl-scroll { flex: 1 1 auto; overflow-x: auto; overflow-y: hidden; position: relative; }
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
table.summary th, table.summary td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); }
table.summary th { font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .5px; }
table.summary td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.summary th.num { text-align: right; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 3px; margin-right: 6px;
  vertical-align: -1px; border: 1px solid rgba(0,0,0,.15); }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin-top: 8px; font-size: 12px; color: var(--muted); }
.legend .lg-task { font-weight: 600; color: var(--ink); }
.legend .chip { white-space: nowrap; }
.empty { color: var(--muted); font-style: italic; }
#bs-js-errors:not(:empty) { margin: 10px 0; padding: 8px 12px; background: var(--bad-bg); color: var(--bad);
  border: 1px solid #f3c0c6; border-radius: 6px; }
footer { color: var(--muted); font-size: 12px; margin-top: 10px; }
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

  var ROW_H = 26, LANE_PAD = 8, AXIS_H = 26, MAX_PX_PER_SEC = 400;
  var data = JSON.parse(document.getElementById("bs-data").textContent);
  var labels = data.labels, colors = data.colors, inks = data.inks, levelNames = data.levels;

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
  var STEPS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800];
  function tickStep(pxPerSec) {
    for (var i = 0; i < STEPS.length; i++) if (STEPS[i] * pxPerSec >= 90) return STEPS[i];
    return STEPS[STEPS.length - 1];
  }

  var tooltip = document.createElement("div");
  tooltip.className = "tooltip";
  tooltip.style.display = "none";
  document.body.appendChild(tooltip);

  function showTooltip(stream, span, x, y) {
    var lane = stream.lanes[span[0]];
    tooltip.textContent = "";
    var head = document.createElement("div");
    head.className = "tt-head";
    head.textContent = lane.task + ": " + (labels[span[4]] === "" ? "(no label)" : labels[span[4]]);
    tooltip.appendChild(head);
    var time = document.createElement("div");
    time.className = "tt-time";
    var lvl = levelNames[span[1]];
    time.textContent = fmtTime(span[2], 0.01) + " – " + fmtTime(span[3], 0.01) +
      (lvl ? " · " + lvl : "") + (span[6] ? " · id " + span[6] : "");
    tooltip.appendChild(time);
    var preds = span[5];
    if (preds.length) {
      var table = document.createElement("table");
      preds.forEach(function (p) {
        var tr = document.createElement("tr");
        if (p[0] === span[4]) tr.className = "final";
        var td1 = document.createElement("td");
        var sw = document.createElement("span");
        sw.className = "swatch";
        sw.style.background = colors[p[0]];
        td1.appendChild(sw);
        td1.appendChild(document.createTextNode(labels[p[0]] === "" ? "(no label)" : labels[p[0]]));
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
        table.appendChild(tr);
      });
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

  function Timeline(root, stream) {
    this.root = root; this.stream = stream;
    this.names = root.querySelector(".tl-names");
    this.scroll = root.querySelector(".tl-scroll");
    this.spacer = root.querySelector(".tl-spacer");
    this.canvas = root.querySelector("canvas");
    this.rangeEl = root.querySelector(".tl-range");
    this.ctx = this.canvas.getContext("2d");
    this.extent = Math.max(stream.extent, 1);
    // rows: one per (lane, level); lanes stack rows
    var y = AXIS_H, rows = [], laneTops = [];
    var self = this;
    stream.lanes.forEach(function (lane, li) {
      var top = y;
      laneTops.push(top);
      y += LANE_PAD / 2;
      lane.levels.forEach(function (lv) {
        rows.push({ lane: li, level: lv, y: y, spans: [], maxDur: 0 });
        y += ROW_H;
      });
      y += LANE_PAD / 2;
      lane.top = top; lane.height = y - top;
    });
    this.height = y;
    this.rows = rows;
    var rowIndex = {};
    rows.forEach(function (r, i) { rowIndex[r.lane + ":" + r.level] = i; });
    stream.spans.forEach(function (s) {
      var r = rows[rowIndex[s[0] + ":" + s[1]]];
      r.spans.push(s);
      if (s[3] - s[2] > r.maxDur) r.maxDur = s[3] - s[2];
    });
    rows.forEach(function (r) { r.spans.sort(function (a, b) { return a[2] - b[2] || a[3] - b[3]; }); });
    this.buildNames();
    this.fit();
    this.scroll.addEventListener("scroll", function () { self.draw(); });
    window.addEventListener("resize", function () {
      var fitted = self.isFit; self.resize(); if (fitted) self.fit(); else self.draw();
    });
    this.scroll.addEventListener("wheel", function (ev) {
      if (!(ev.ctrlKey || ev.metaKey)) return;
      ev.preventDefault();
      var rect = self.scroll.getBoundingClientRect();
      self.zoomAt(ev.deltaY < 0 ? 1.25 : 0.8, ev.clientX - rect.left);
    }, { passive: false });
    this.canvas.addEventListener("mousemove", function (ev) { self.hover(ev); });
    this.canvas.addEventListener("mouseleave", hideTooltip);
    root.querySelector(".zoom-in").addEventListener("click", function () { self.zoomAt(2, self.viewWidth / 2); });
    root.querySelector(".zoom-out").addEventListener("click", function () { self.zoomAt(0.5, self.viewWidth / 2); });
    root.querySelector(".zoom-fit").addEventListener("click", function () { self.fit(); });
  }
  Timeline.prototype.buildNames = function () {
    var names = this.names;
    var gap = document.createElement("div");
    gap.className = "axis-gap";
    gap.style.height = AXIS_H + "px";
    names.appendChild(gap);
    var stream = this.stream;
    stream.lanes.forEach(function (lane) {
      var div = document.createElement("div");
      div.className = "lane";
      div.setAttribute("data-task", lane.task);
      div.setAttribute("data-spans", String(lane.count));
      div.style.height = lane.height + "px";
      var t = document.createElement("div");
      t.className = "lane-task";
      t.textContent = lane.task === "" ? "(no task)" : lane.task;
      t.title = lane.task;
      div.appendChild(t);
      if (lane.levels.length > 1 || levelNames[lane.levels[0]]) {
        var l = document.createElement("div");
        l.className = "lane-levels";
        l.textContent = lane.levels.map(function (i) { return levelNames[i] || "no level"; }).join(" / ");
        div.appendChild(l);
      }
      names.appendChild(div);
    });
  };
  Timeline.prototype.resize = function () {
    this.viewWidth = Math.max(200, this.scroll.clientWidth);
    var dpr = window.devicePixelRatio || 1;
    this.dpr = dpr;
    this.canvas.width = Math.round(this.viewWidth * dpr);
    this.canvas.height = Math.round(this.height * dpr);
    this.canvas.style.width = this.viewWidth + "px";
    this.canvas.style.height = this.height + "px";
  };
  Timeline.prototype.setScale = function (pxPerSec, anchorTime, anchorX) {
    var fitScale = (this.viewWidth - 2) / this.extent;
    this.pxPerSec = Math.max(fitScale, Math.min(MAX_PX_PER_SEC, pxPerSec));
    this.isFit = this.pxPerSec <= fitScale * 1.0001;
    this.spacer.style.width = Math.ceil(this.extent * this.pxPerSec) + "px";
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
  Timeline.prototype.draw = function () {
    var ctx = this.ctx, W = this.viewWidth, H = this.height, pps = this.pxPerSec;
    var x0 = this.scroll.scrollLeft, t0 = x0 / pps, t1 = (x0 + W) / pps;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, W, H);
    // lane backgrounds
    var stream = this.stream;
    stream.lanes.forEach(function (lane, i) {
      ctx.fillStyle = i % 2 ? "#fafbfc" : "#ffffff";
      ctx.fillRect(0, lane.top, W, lane.height);
      ctx.fillStyle = "#e1e5eb";
      ctx.fillRect(0, lane.top + lane.height - 1, W, 1);
    });
    // grid and axis
    var step = tickStep(pps);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.fillStyle = "#f3f5f8";
    ctx.fillRect(0, 0, W, AXIS_H);
    ctx.fillStyle = "#e1e5eb";
    ctx.fillRect(0, AXIS_H - 1, W, 1);
    var first = Math.floor(t0 / step) * step;
    for (var t = first; t <= t1 + step; t += step) {
      var x = Math.round(t * pps - x0) + 0.5;
      if (x < -50 || x > W + 50) continue;
      ctx.fillStyle = "#edf0f4";
      ctx.fillRect(x, AXIS_H, 1, H - AXIS_H);
      ctx.fillStyle = "#9aa4b2";
      ctx.fillRect(x, AXIS_H - 7, 1, 6);
      ctx.fillStyle = "#5d6675";
      ctx.fillText(fmtTime(Math.round(t / step) * step, step), x + 4, AXIS_H / 2);
    }
    // spans
    ctx.textBaseline = "middle";
    this.rows.forEach(function (row) {
      var spans = row.spans, lo = 0, hi = spans.length, from = t0 - row.maxDur;
      while (lo < hi) { var mid = (lo + hi) >> 1; if (spans[mid][2] < from) lo = mid + 1; else hi = mid; }
      var lastX = -1;
      for (var i = lo; i < spans.length; i++) {
        var s = spans[i];
        if (s[2] > t1) break;
        if (s[3] < t0) continue;
        var xa = s[2] * pps - x0, xb = s[3] * pps - x0;
        var w = Math.max(1, xb - xa - (xb - xa > 4 ? 1 : 0));
        if (w < 1.5 && Math.floor(xa) === lastX) continue;
        lastX = Math.floor(xa);
        ctx.fillStyle = colors[s[4]];
        ctx.fillRect(xa, row.y + 2, w, ROW_H - 4);
        if (w > 24) {
          var text = labels[s[4]];
          var tx = Math.max(xa, 0) + 4, avail = xa + w - tx - 3;
          if (avail > 14 && text !== "") {
            var shown = text;
            if (ctx.measureText(shown).width > avail) {
              while (shown.length > 1 && ctx.measureText(shown + "…").width > avail) shown = shown.slice(0, -1);
              shown += "…";
            }
            if (ctx.measureText(shown).width <= avail) {
              ctx.fillStyle = inks[s[4]];
              ctx.fillText(shown, tx, row.y + ROW_H / 2);
            }
          }
        }
      }
    });
    this.rangeEl.textContent = fmtTime(Math.max(0, t0), 0.1) + " – " + fmtTime(Math.min(t1, this.extent), 0.1) +
      " of " + fmtTime(this.extent, 0.1);
  };
  Timeline.prototype.hover = function (ev) {
    var rect = this.canvas.getBoundingClientRect();
    var x = ev.clientX - rect.left, y = ev.clientY - rect.top;
    var t = (this.scroll.scrollLeft + x) / this.pxPerSec;
    var tol = 2 / this.pxPerSec;
    var row = null;
    for (var i = 0; i < this.rows.length; i++) {
      if (y >= this.rows[i].y && y < this.rows[i].y + ROW_H) { row = this.rows[i]; break; }
    }
    if (!row) { hideTooltip(); return; }
    var best = null;
    var spans = row.spans, lo = 0, hi = spans.length, from = t - row.maxDur - tol;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (spans[mid][2] < from) lo = mid + 1; else hi = mid; }
    for (var j = lo; j < spans.length && spans[j][2] <= t + tol; j++) {
      var s = spans[j];
      if (s[2] - tol <= t && t <= s[3] + tol && (!best || s[3] - s[2] < best[3] - best[2])) best = s;
    }
    if (best) showTooltip(this.stream, best, ev.clientX, ev.clientY); else hideTooltip();
  };

  var rendered = 0;
  data.streams.forEach(function (stream, i) {
    var root = document.getElementById("timeline-" + i);
    if (!root) return;
    try {
      new Timeline(root, stream);
      root.setAttribute("data-rendered", "1");
      rendered += 1;
    } catch (e) {
      reportError((e && e.stack) || String(e));
    }
  });
  document.body.setAttribute("data-bs-rendered", String(rendered));
})();
"""
