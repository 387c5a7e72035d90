"""The HTML report in a real headless browser (Debian ``chromium``; skipped when missing).

Chromium is driven directly: ``--dump-dom`` shows the DOM after the page's script ran (lanes
are built by the script, JS errors are written into ``#bs-js-errors`` by ``window.onerror``),
``--enable-logging=stderr`` shows console messages, ``--screenshot`` gives a PNG decoded here
with zlib to make sure the page is not blank.
"""

from __future__ import annotations

import html
import os
import re
import struct
import subprocess
import time
import zlib
from pathlib import Path

import pytest

from bsstream.export.html import HtmlExport, csp_hash, render_html
from bsstream.protocol.results import Prediction, Result, ResultMessage
from bsstream.protocol.stream import METHOD_ANALYZE, StreamInfo, StreamOutcome
from bsstream.protocol.summary import summarize
from tests.test_export_formats import drive, fixture_messages, load_fixture

CHROMIUM = os.environ.get("BSSTREAM_CHROMIUM", "/usr/bin/chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(60),
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason=f"headless browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)",
    ),
]


def run_chromium(
    tmp_path: Path, page: Path, *args: str, timeout: float = 40
) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{time.monotonic_ns()}"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
        page.resolve().as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def with_script(page: str, script: str) -> str:
    """``page`` with ``<script>script</script>`` before ``</body>``, its hash added to the page's
    own script-src (the report's strict CSP would block it otherwise; the rest stays as it is)."""
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert csp is not None and "script-src 'sha256-" in csp.group(1)
    policy = csp.group(1).replace("script-src ", f"script-src {csp_hash(script)} ", 1)
    page = page.replace(csp.group(0), csp.group(0).replace(csp.group(1), policy), 1)
    return page.replace("</body>", f"<script>{script}</script></body>", 1)


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def lanes_by_section(dom: str) -> list[list[str]]:
    sections = re.split(r'<section class="stream" id="stream-\d+"', dom)[1:]
    return [
        [html.unescape(t) for t in re.findall(r'<div class="lane" data-task="([^"]*)"', section)]
        for section in sections
    ]


def dump_dom(tmp_path: Path, page: Path) -> str:
    proc = run_chromium(tmp_path, page, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert console_lines(proc.stderr) == [], "console messages (errors, blocked loads)"
    return proc.stdout


def assert_no_js_errors(dom: str) -> None:
    errors = re.findall(r'<div class="bs-js-error">(.*?)</div>', dom, re.S)
    assert errors == [], errors
    assert 'data-bs-error="1"' not in dom


def fixture_report(tmp_path: Path) -> Path:
    sink = HtmlExport(tmp_path / "report.html")
    drive(sink, load_fixture())  # its second input fails: report.partial.html
    assert sink.written is not None
    return sink.written


def test_fixture_report_loads_and_has_one_lane_per_task(tmp_path: Path) -> None:
    dom = dump_dom(tmp_path, fixture_report(tmp_path))
    assert_no_js_errors(dom)
    assert 'data-bs-rendered="2"' in dom
    lanes = lanes_by_section(dom)
    expected = []
    for source in ("call.wav", "second.wav"):
        tasks: list[str] = []
        for m in fixture_messages(source):
            for r in m.results:
                # a task with no label at all (features: embeddings only) gets no lane unless
                # embeddings were asked for (the fixture does not ask)
                if r.task not in tasks and (r.final_label or r.predictions):
                    tasks.append(r.task)
        tasks.sort(key=lambda t: t != "deepfake")  # deepfake lane first
        expected.append(tasks)
    assert lanes == expected
    assert "<script>alert" not in dom  # the label stayed text
    assert "Deepfake verdict" in dom


def test_a_js_error_is_caught(tmp_path: Path) -> None:
    # The error marker works, so the test above would see a broken page.
    page = fixture_report(tmp_path)
    text = page.read_text(encoding="utf-8").replace('id="bs-data">{', 'id="bs-data">{oops', 1)
    page.write_text(text, encoding="utf-8")
    proc = run_chromium(tmp_path, page, "--dump-dom")
    assert 'class="bs-js-error"' in proc.stdout
    assert console_lines(proc.stderr)


def test_csp_blocks_a_script_it_does_not_know(tmp_path: Path) -> None:
    # the report's own script runs under its hash; one injected without it does not
    page = fixture_report(tmp_path)
    text = page.read_text(encoding="utf-8")
    injected = 'document.body.setAttribute("data-injected", "1");'
    page.write_text(text.replace("</body>", f"<script>{injected}</script></body>", 1), encoding="utf-8")
    proc = run_chromium(tmp_path, page, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'data-bs-rendered="2"' in proc.stdout and 'data-injected="1"' not in proc.stdout
    assert any("Content Security Policy" in line for line in console_lines(proc.stderr))
    # with its hash added (as the probes in these tests do) it runs
    page.write_text(with_script(text, injected), encoding="utf-8")
    assert 'data-injected="1"' in dump_dom(tmp_path, page)


# -- screenshot: fails on a blank page -----------------------------------------------------


def decode_png(data: bytes) -> tuple[int, int, list[bytes], int]:
    """A minimal PNG decoder (8-bit RGB/RGBA, not interlaced): width, height, rows, bpp."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, []
    width = height = bpp = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, "unsupported PNG"
            bpp = 4 if colour == 6 else 3
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    i = 0
    for _ in range(height):
        kind_ = raw[i]
        line = bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        if kind_ == 1:
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 255
        elif kind_ == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev, strict=True))
        elif kind_ == 3:
            for x in range(stride):
                left = line[x - bpp] if x >= bpp else 0
                line[x] = (line[x] + ((left + prev[x]) >> 1)) & 255
        elif kind_ == 4:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b = prev[x]
                c = prev[x - bpp] if x >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows, bpp


def test_screenshot_is_not_blank(tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    proc = run_chromium(tmp_path, fixture_report(tmp_path), f"--screenshot={shot}", "--window-size=1280,900")
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    width, height, rows, bpp = decode_png(shot.read_bytes())
    assert (width, height) == (1280, 900)
    colours: set[bytes] = set()
    non_white = 0
    for row in rows[::3]:
        for x in range(0, len(row), bpp * 3):
            pixel = row[x : x + 3]
            colours.add(pixel)
            if min(pixel) < 235:
                non_white += 1
    sampled = len(rows[::3]) * len(range(0, width * bpp, bpp * 3))
    assert len(colours) > 50, "too few colours: a blank or unstyled page"
    assert non_white / sampled > 0.05, "almost all white: the timeline did not render"
    # the timeline area (below the header and verdict) holds saturated span colours
    saturated = {c for c in colours if max(c) - min(c) > 80}
    assert len(saturated) >= 6, "no coloured spans"


# -- a 2-hour call ------------------------------------------------------------------------

_TASKS = {
    "deepfake": (("bonafide", "spoofed"),),
    "gender": (("female", "male"),),
    "emotion": (("neutral", "happy", "angry", "sad"),),
    "age": (("31 - 45", "23 - 30", "46 - 65", "18 - 22"),),
    "strength": (("neutral", "weak", "strong"),),
    "positivity": (("neutral", "positive", "negative"),),
    "speaking_rate": (("normal", "fast", "slow"),),
}


def long_call_messages(seconds: int = 7200) -> list[ResultMessage]:
    messages = []
    for n, start in enumerate(range(0, seconds, 2)):
        results = []
        for k, (task, (labels,)) in enumerate(_TASKS.items()):
            final = labels[(start // 2 * (k + 3) // 7) % len(labels)]
            preds = tuple(
                Prediction(label, f"{(0.7 if label == final else 0.3 / (len(labels) - 1)):.4f}")
                for label in labels
            )
            results.append(
                Result(str(n), f"{start:.2f}", f"{start + 2:.2f}", task, preds, final, level="segment")
            )
        if start % 8 == 6:
            for task in ("emotion", "gender", "deepfake"):
                labels = _TASKS[task][0]
                final = labels[(start // 8) % len(labels)]
                preds = tuple(Prediction(label, "0.5") for label in labels)
                results.append(
                    Result(
                        f"u{n}",
                        f"{start - 6:.2f}",
                        f"{start + 1.5:.2f}",
                        task,
                        preds,
                        final,
                        level="utterance",
                    )
                )
        messages.append(ResultMessage(1, 2, n, tuple(results), source="long-call.wav"))
    return messages


def test_two_hour_call_renders(tmp_path: Path) -> None:
    messages = long_call_messages()
    spans = sum(len(m.results) for m in messages)
    assert spans > 25_000
    page = tmp_path / "long.html"
    sink = HtmlExport(page)
    info = StreamInfo("long-call.wav", METHOD_ANALYZE, {"sample_rate_hertz": 16000}, duration=7200.0)
    sink.begin(info)
    for m in messages:
        sink.message(m)
    sink.end(info, StreamOutcome(status=0, summary=summarize(messages), audio_seconds=7200.0))
    started = time.monotonic()
    sink.close()
    assert time.monotonic() - started < 10
    size = page.stat().st_size
    assert size < 6_000_000, f"report too large: {size} bytes for {spans} spans"
    started = time.monotonic()
    dom = dump_dom(tmp_path, page)
    elapsed = time.monotonic() - started
    assert_no_js_errors(dom)
    assert 'data-bs-rendered="1"' in dom
    assert lanes_by_section(dom) == [list(_TASKS)]
    assert elapsed < 30, f"page took {elapsed:.1f} s to load"


def test_render_html_of_nothing(tmp_path: Path) -> None:
    page = tmp_path / "empty.html"
    page.write_text(render_html([]), encoding="utf-8")
    dom = dump_dom(tmp_path, page)
    assert_no_js_errors(dom)
    assert "No input was streamed." in dom


_PROBE = """
(function () {
  var out = document.createElement("pre");
  out.id = "probe";
  document.body.appendChild(out);
  var root = document.getElementById("timeline-0");
  root.querySelector(".zoom-in").click();
  root.querySelector(".zoom-in").click();
  root.querySelector(".zoom-fit").click();
  var canvas = root.querySelector("canvas");
  var rect = canvas.getBoundingClientRect();
  // the first lane (deepfake), first row, a quarter of the way into the first second
  var lane = root.querySelector(".lane");
  var y = rect.top + lane.offsetTop + lane.offsetHeight / 2 - root.querySelector(".tl-names").offsetTop;
  canvas.dispatchEvent(new MouseEvent("mousemove", {clientX: rect.left + 20, clientY: y, bubbles: true}));
  var tip = document.querySelector(".tooltip");
  out.textContent = "TOOLTIP[" + tip.style.display + "]" + tip.textContent + "[/TOOLTIP]" +
    "RANGE[" + root.querySelector(".tl-range").textContent + "]";
})();
"""


def test_zoom_and_hover_tooltip(tmp_path: Path) -> None:
    page = fixture_report(tmp_path)
    text = with_script(page.read_text(encoding="utf-8"), _PROBE)
    page.write_text(text, encoding="utf-8")
    dom = dump_dom(tmp_path, page)
    assert_no_js_errors(dom)
    probe = html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1))  # type: ignore[union-attr]
    tooltip = probe.split("TOOLTIP[", 1)[1].split("[/TOOLTIP]", 1)[0]
    assert tooltip.startswith("block]deepfake: bonafide")
    assert "bonafide0.97" in tooltip and "spoofed0.03" in tooltip  # every prediction with its posterior
    assert "RANGE[0:00.0 – 0:08.0 of 0:08.0]" in probe
