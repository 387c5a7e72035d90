"""The HTML report as a review tool: embedded audio, waveform, playhead, seek, keyboard, small
screens, print, per-task colours and channel lanes.

Reports are made by real runs (``--local``, in-process) once per module; the browser tests drive
Debian's chromium like tests/test_export_html.py: a probe script appended to the page writes
what it measured into ``<pre id="probe">``, read back from ``--dump-dom``
(``--virtual-time-budget`` lets the audio's metadata load first); print goes through
``--print-to-pdf`` and poppler's ``pdftotext``.
"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bsstream.audio.tap import tap
from bsstream.export.audio import EMBED_LIMIT_SECONDS, AudioStore, CapturedAudio
from bsstream.render.palette import PALETTE, label_color
from tests import datagen
from tests.clirun import bsstream
from tests.test_export_html import CHROMIUM, assert_no_js_errors, console_lines, run_chromium, with_script

JFK = "01_jfk_16k_mono_s16.wav"
VOX = "10_voxconverse_aepyx_8k_mono_s16_169s.wav"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
browser = [
    pytest.mark.browser,
    pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"browser tests need Debian's chromium at {CHROMIUM}"),
]


def jfk_pcm(testdata: Path) -> bytes:
    data = (testdata / JFK).read_bytes()
    return data[data.index(b"data") + 8 :]


def payload(page: str) -> dict:  # type: ignore[type-arg]
    found = re.search(r'<script type="application/json" id="bs-data">(.*?)</script>', page, re.S)
    assert found is not None
    return json.loads(found.group(1))  # type: ignore[no-any-return]


# -- capture and encoding (no browser) ------------------------------------------------------


def test_captured_pcm_is_encoded_as_opus_in_webm_with_a_waveform(testdata: Path) -> None:
    audio = CapturedAudio("jfk.wav", None, 11.0, split=False)
    pcm = jfk_pcm(testdata)
    for i in range(0, len(pcm), 3333):  # odd block sizes: a sample cut between blocks
        audio.feed(pcm[i : i + 3333])
    uri = audio.data_uri()
    assert uri is not None and uri.startswith("data:audio/webm;base64,")
    webm = base64.b64decode(uri.split(",", 1)[1])
    assert webm[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a WebM file
    assert b"A_OPUS" in webm[:400]
    assert 11.0 * 20_000 / 8 < len(webm) < 11.0 * 40_000 / 8  # about 24 kb/s
    assert audio.seconds == pytest.approx(len(pcm) / 2 / 16000)
    wave = audio.waveform()
    assert 200 <= len(wave) <= 1600 and all(0 <= v <= 100 for v in wave)
    assert max(wave) > 60 and min(wave) < max(wave) - 20  # speech and pauses differ
    audio.close()


def test_default_embeds_only_up_to_the_limit_and_no_embed_audio_never() -> None:
    long = CapturedAudio("long.wav", None, EMBED_LIMIT_SECONDS + 1, split=False)
    assert long.problem is not None and "longer than 30 min" in long.problem
    long.feed(b"\x01\x00" * 16000)
    assert long.data_uri() is None and long.waveform()  # the waveform is still there
    forced = CapturedAudio("long.wav", True, EMBED_LIMIT_SECONDS + 1, split=False)
    assert forced.problem is None
    forced.close()
    never = CapturedAudio("a.wav", False, 1.0, split=False)
    never.feed(b"\x01\x00" * 1600)
    assert never.data_uri() is None and "--no-embed-audio" in (never.problem or "")


def test_split_stream_header_is_read_and_channels_mixed() -> None:
    frames = np.zeros((16000, 2), dtype="<i2")
    frames[:, 0] = 8000  # loud left, silent right
    header = b"RIFF\xff\xff\xff\xffWAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 2, 16000, 64000, 4, 16)
    stream = header + b"data\xff\xff\xff\xff" + frames.tobytes()
    audio = CapturedAudio("stereo.wav", False, None, split=True)
    for i in range(0, len(stream), 1000):
        audio.feed(stream[i : i + 1000])
    assert audio.channels == 2 and audio.samples == 16000
    assert audio.waveform()[0] == round((20 * np.log10(4000 / 32768) + 60) * 100 / 60)


def test_store_close_removes_the_encoder_file(testdata: Path) -> None:
    store = AudioStore(True)

    class Source:
        name, duration = "x.wav", 1.0

        def blocks(self):  # type: ignore[no-untyped-def]
            yield jfk_pcm(testdata)[:32000]

        def close(self) -> None:
            pass

    source = Source()
    wrapped = tap(source, store.capture(source))
    assert list(wrapped.blocks()) and wrapped.name == "x.wav"
    audio = store.get("x.wav")
    assert audio is not None and audio._path is not None and Path(audio._path).exists()
    path = audio._path
    store.close()
    assert not Path(path).exists()


def test_colours_differ_inside_every_task_as_in_the_terminal() -> None:
    from bsstream.emulator.analysis import LABEL_SETS

    families = {c: i // 2 for i, c in enumerate(PALETTE[:18])} | {PALETTE[18]: 4, PALETTE[19]: 7}
    for task, label_set in LABEL_SETS.items():
        colours = [label_color(label) for label in label_set.labels]
        assert len(set(colours)) == len(colours), task
        if task not in ("language", "deepfake"):  # language has more labels than families
            assert len({families[c] for c in colours}) == len(colours), task


# -- real runs ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reports(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("review")
    shutil.copyfile(testdata / JFK, work / "jfk.wav")
    shutil.copyfile(testdata / datagen.TWO_SPEAKERS_FLOAT, work / "call.wav")
    runs = {
        "jfk": ("analyze", "jfk.wav", "--output", "jfk.html"),
        "quiet": ("analyze", "jfk.wav", "--no-embed-audio", "--output", "quiet.html"),
        "forced": ("analyze", "jfk.wav", "--embed-audio", "--output", "forced.html"),
        "call": ("analyze", "call.wav", "--channels", "split", "--channel-names", "agent,customer",
                 "--output", "call.html"),
        "scan": ("scan", "jfk.wav", "--output", "scan.html"),
    }  # fmt: skip
    for args in runs.values():
        done = bsstream(*args, "--local", cwd=work)
        assert done.code == 0, done.err
    return {name: work / f"{name}.html" for name in runs}


def test_default_run_embeds_the_audio_and_allows_only_data_media(reports: dict[str, Path]) -> None:
    page = reports["jfk"].read_text(encoding="utf-8")
    assert page.count("<audio ") == 1 and 'src="data:audio/webm;base64,' in page
    csp = re.search(r'Content-Security-Policy" content="([^"]*)"', page).group(1)  # type: ignore[union-attr]
    assert "media-src data:" in csp and "http" not in csp and "default-src 'none'" in csp
    data = payload(page)["streams"][0]
    assert data["audio"] == "bs-audio-0" and len(data["wave"]) > 100
    assert data["waveSeconds"] == pytest.approx(11.0, abs=0.1)
    quiet = reports["quiet"].read_text(encoding="utf-8")
    assert "<audio" not in quiet and "media-src" not in quiet
    assert "Audio not embedded (--no-embed-audio)" in quiet
    assert payload(quiet)["streams"][0]["wave"]  # the waveform needs no audio
    assert reports["quiet"].stat().st_size < reports["jfk"].stat().st_size - 20_000


def test_csp_allows_only_the_pages_own_script_and_style_by_hash(reports: dict[str, Path]) -> None:
    from bsstream.export.html import csp_hash

    for name in ("jfk", "quiet", "scan"):
        page = reports[name].read_text(encoding="utf-8")
        csp = re.search(r'Content-Security-Policy" content="([^"]*)"', page).group(1)  # type: ignore[union-attr]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "unsafe-hashes" not in csp
        assert "http" not in csp and "*" not in csp  # no external source of any kind
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["default-src"] == "'none'"
        (script,) = re.findall(r"<script>(.*?)</script>", page, re.S)  # the one executable script
        (style,) = re.findall(r"<style>(.*?)</style>", page, re.S)
        assert directives["script-src"] == csp_hash(script)
        assert directives["style-src"] == csp_hash(style)
        # nothing inline that a hash does not cover: no style attributes, no event handlers
        assert " style=" not in page and not re.search(r"<[^>]+\son[a-z]+=", page)
        assert ".swatch.c-" in style  # the swatches' colours are classes in the stylesheet


def test_confidence_is_each_bars_posterior_and_each_task_has_a_legend(reports: dict[str, Path]) -> None:
    page = reports["jfk"].read_text(encoding="utf-8")
    data = payload(page)
    stream = data["streams"][0]
    confs = [s[7] for s in stream["spans"]]
    assert all(c is None or 0 <= c <= 1 for c in confs)
    assert len({c for c in confs if c is not None}) > 5  # drawn with different opacities
    for span in stream["spans"]:  # the bar's confidence is its final label's posterior
        final = [float(p[1]) for p in span[5] if p[0] == span[4]]
        if final and span[7] is not None:
            assert span[7] == pytest.approx(final[0], abs=0.001)
    legend = re.findall(r'<div class="lg-row"><span class="lg-task">([^<]*)</span>(.*?)</div>', page)
    tasks = [lane["task"] for lane in stream["lanes"]]
    assert [task for task, _ in legend] == tasks  # one legend row per lane's task, in lane order
    for task, chips in legend:
        shown = [
            html.unescape(c) for c in re.findall(r'<span class="swatch c-[0-9a-f]{6}"></span>([^<]*)', chips)
        ]
        labels = {data["labels"][s[4]] for s in stream["spans"] if stream["lanes"][s[0]]["task"] == task}
        assert set(shown) == labels - {""}, task
        assert len({label_color(label) for label in shown}) == len(shown), task  # distinct inside a task


def test_scan_decodes_once_and_embeds_one_audio_element(reports: dict[str, Path]) -> None:
    page = reports["scan"].read_text(encoding="utf-8")
    assert page.count("<audio ") == 1
    streams = payload(page)["streams"]
    assert [s["audio"] for s in streams] == ["bs-audio-0"]
    assert {lane["task"] for lane in streams[0]["lanes"]} >= {"deepfake", "emotion"}


def test_split_channels_get_their_own_lanes(reports: dict[str, Path]) -> None:
    lanes = payload(reports["call"].read_text(encoding="utf-8"))["streams"][0]["lanes"]
    channels = [lane["channel"] for lane in lanes]
    assert channels[0] == "agent" and "customer" in channels
    assert channels == sorted(channels, key=["agent", "customer"].index)  # grouped by channel
    assert {lane["task"] for lane in lanes if lane["channel"] == "agent"} == {
        lane["task"] for lane in lanes if lane["channel"] == "customer"
    }
    assert all(lane["task"] != "features" for lane in lanes)  # no embeddings asked: no empty lane


# -- in the browser -------------------------------------------------------------------------


_FRAME = """<!DOCTYPE html><html><body style="margin:0">
<iframe src="{src}" style="width:{width}px;height:900px;border:0;display:block"></iframe>
<script>window.addEventListener("message", function (e) {{
  var p = document.createElement("pre"); p.id = "probe"; p.textContent = e.data; document.body.appendChild(p);
}});</script></body></html>"""


def probe_page(tmp_path: Path, page: Path, script: str, *args: str, width: int | None = None) -> dict:  # type: ignore[type-arg]
    """Load ``page`` with ``script`` appended; what it reports. ``width``: the page is shown in
    an iframe that wide (a headless window is at least 500 px wide), its report posted out."""
    probed = tmp_path / f"probe-{page.name}"
    body = "(function () {\n" + script + "\n})();"
    probed.write_text(with_script(page.read_text(encoding="utf-8"), body), encoding="utf-8")
    if width is not None:
        frame = tmp_path / f"frame-{page.name}"
        frame.write_text(_FRAME.format(src=probed.name, width=width), encoding="utf-8")
        probed = frame
    proc = run_chromium(tmp_path, probed, "--dump-dom", "--virtual-time-budget=5000", *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert console_lines(proc.stderr) == [], "console messages (errors, blocked loads)"
    assert_no_js_errors(proc.stdout)
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert found is not None, proc.stdout[-2000:]
    return json.loads(html.unescape(found.group(1)))  # type: ignore[no-any-return]


_REPORT = """
  function report(extra) {
    if (window.parent !== window) { window.parent.postMessage(JSON.stringify(extra), "*"); return; }
    var out = document.createElement("pre"); out.id = "probe";
    out.textContent = JSON.stringify(extra); document.body.appendChild(out);
  }
"""

_NARROW = (
    _REPORT
    + """
  var root = document.getElementById("timeline-0"), T = window.bsTimelines[0];
  root.querySelector(".zoom-in").click();
  root.querySelector(".zoom-fit").click();
  var label = document.querySelector(".v-label"), table = document.querySelector("table.summary");
  report({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
    range: root.querySelector(".tl-range").textContent, extent: T.extent, canvas: T.canvas.clientWidth,
    box: T.scroll.clientWidth,
    play: !!root.querySelector(".play") && root.querySelector(".play").offsetWidth > 0,
    verdictLines: label ? Math.round(label.offsetHeight / parseFloat(getComputedStyle(label).lineHeight)) : 1,
    tableRight: table.getBoundingClientRect().right,
    cardRight: table.closest("section").getBoundingClientRect().right});
"""
)


@pytest.mark.parametrize(("name", "width"), [("jfk", 360), ("call", 360), ("quiet", 420)])
@pytest.mark.timeout(60)
@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"browser tests need Debian's chromium at {CHROMIUM}")
def test_small_screens_do_not_overflow_and_fit_shows_everything(
    tmp_path: Path, reports: dict[str, Path], name: str, width: int
) -> None:
    got = probe_page(
        tmp_path, reports[name], _NARROW, "--window-size=800,900", "--hide-scrollbars", width=width
    )
    assert got["client"] == width
    assert got["scroll"] <= got["client"], got  # no horizontal scrolling of the page
    extent = got["extent"]
    minutes, seconds = divmod(extent, 60)
    assert got["range"] == f"0:00.0 – {int(minutes)}:{seconds:04.1f} of {int(minutes)}:{seconds:04.1f}", got
    assert got["canvas"] <= got["box"]  # Fit: the whole recording inside the visible box
    assert got["play"] is (name != "quiet")  # the player is not hidden (none without audio)
    assert got["verdictLines"] <= 1  # bonafide on one line, never split mid-word
    assert got["tableRight"] <= got["cardRight"] + 0.5


_SEEK = (
    _REPORT
    + """
  var audio = document.querySelector("audio");
  function go() {
    var T = window.bsTimelines[0], before = audio.currentTime;
    var row = T.rows[0], s = row.spans[Math.min(2, row.spans.length - 1)];
    var rect = T.canvas.getBoundingClientRect();
    var x = rect.left + ((s[2] + s[3]) / 2) * T.pxPerSec - T.scroll.scrollLeft;
    var y = rect.top + row.y + 13;
    T.canvas.dispatchEvent(new MouseEvent("click", {clientX: x, clientY: y, bubbles: true}));
    var afterClick = audio.currentTime, focus = document.activeElement;
    var name1 = focus.getAttribute("aria-label");
    focus.dispatchEvent(new KeyboardEvent("keydown", {key: "ArrowRight", bubbles: true}));
    var next = row.spans[Math.min(3, row.spans.length - 1)];
    var name2 = document.activeElement.getAttribute("aria-label");
    var afterKey = audio.currentTime;
    document.activeElement.dispatchEvent(new KeyboardEvent("keydown", {key: " ", bubbles: true}));
    var playing = !audio.paused;
    document.activeElement.dispatchEvent(new KeyboardEvent("keydown", {key: " ", bubbles: true}));
    var paused = audio.paused;
    // a click on the time axis seeks there
    var mid = rect.left + T.viewWidth / 2;
    T.canvas.dispatchEvent(new MouseEvent("click", {clientX: mid, clientY: rect.top + 5, bubbles: true}));
    report({duration: audio.duration, seekable: audio.seekable.length ? audio.seekable.end(0) : -1,
      ready: audio.readyState, before: before, afterClick: afterClick, start: s[2], name1: name1,
      tabindex: focus.getAttribute("tabindex"), role: focus.getAttribute("role"), name2: name2,
      afterKey: afterKey, next: next[2], playing: playing,
      paused: paused, axis: audio.currentTime, half: T.viewWidth / 2 / T.pxPerSec,
      tooltip: document.querySelector(".tooltip").style.display, task: T.stream.lanes[0].task,
      label: T.stream.spans.length && window.bsTimelines[0].stream.lanes.length});
  }
  if (audio.readyState >= 1) go(); else audio.addEventListener("loadedmetadata", go);
"""
)


@pytest.mark.timeout(60)
@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"browser tests need Debian's chromium at {CHROMIUM}")
def test_audio_is_seekable_and_bars_seek_and_take_the_keyboard(
    tmp_path: Path, reports: dict[str, Path]
) -> None:
    got = probe_page(
        tmp_path,
        reports["forced"],  # --embed-audio (the default run embeds it too: the test above)
        _SEEK,
        "--window-size=1200,900",
        "--autoplay-policy=no-user-gesture-required",
    )
    assert got["duration"] == pytest.approx(11.0, abs=0.2)
    assert got["seekable"] == pytest.approx(got["duration"], abs=0.05)
    assert got["before"] == 0
    assert got["afterClick"] == pytest.approx(got["start"]) and got["start"] > 0  # clicking a bar seeks
    assert got["tabindex"] == "0" and got["role"] == "button"
    name = (
        rf"{got['task']} \S.* 0\.\d\d, \d+\.\d–\d+\.\d s, segment"  # "gender male 0.79, 5.4–7.4 s, segment"
    )
    assert re.fullmatch(name, got["name1"]), got["name1"]
    assert got["name2"] != got["name1"] and got["afterKey"] == pytest.approx(got["next"])  # → walks the bars
    assert got["axis"] == pytest.approx(got["half"], abs=0.05)
    assert got["playing"] is True and got["paused"] is True  # Space plays, Space again pauses
    assert got["tooltip"] == "block"  # the exact posteriors show on focus too


_ZOOM_IN = """
  var root = document.getElementById("timeline-0");
  for (var i = 0; i < 4; i++) root.querySelector(".zoom-in").click();
"""


@pytest.mark.timeout(60)
@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"browser tests need Debian's chromium at {CHROMIUM}")
def test_print_puts_the_whole_timeline_on_paper(tmp_path: Path, reports: dict[str, Path]) -> None:
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:  # .ci/run installs it and fails on a skipped chromium test
        pytest.skip("the chromium print test needs pdftotext (apt-get install poppler-utils)")
    page = tmp_path / "zoomed.html"
    text = reports["jfk"].read_text(encoding="utf-8")
    page.write_text(with_script(text, f"(function () {{{_ZOOM_IN}}})();"))
    pdf = tmp_path / "report.pdf"
    proc = run_chromium(tmp_path, page, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert proc.returncode == 0 and pdf.exists(), proc.stderr[-2000:]
    printed = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    extent = payload(text)["streams"][0]["extent"]
    whole = f"0:00.0 – 0:{extent:04.1f} of 0:{extent:04.1f}"
    assert whole in printed, printed  # zoomed in on screen, the whole range on paper
    assert printed.count(whole) == 2  # the range label and the one strip's caption
    assert "Part 1 of" not in printed  # up to 5 minutes: one strip
    assert "emulated" in printed.lower()


@pytest.mark.timeout(60)
@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"browser tests need Debian's chromium at {CHROMIUM}")
def test_print_splits_lanes_taller_than_a_page_at_the_channel(
    tmp_path: Path, reports: dict[str, Path]
) -> None:
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:  # .ci/run installs it and fails on a skipped chromium test
        pytest.skip("the chromium print test needs pdftotext (apt-get install poppler-utils)")
    lanes = payload(reports["call"].read_text(encoding="utf-8"))["streams"][0]["lanes"]
    agent = sum(1 for lane in lanes if lane["channel"] == "agent")
    assert sum(len(lane["levels"]) * 26 + 8 for lane in lanes) > 880  # two channels: taller than a page
    pdf = tmp_path / "call.pdf"
    proc = run_chromium(tmp_path, reports["call"], f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert proc.returncode == 0 and pdf.exists(), proc.stderr[-2000:]
    printed = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    groups = re.findall(r"· lanes (\d+)–(\d+) of (\d+)", printed)
    total = str(len(lanes))
    assert groups == [("1", str(agent), total), (str(agent + 1), total, total)], printed  # one per channel


@pytest.mark.timeout(60)
@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"browser tests need Debian's chromium at {CHROMIUM}")
def test_print_wraps_a_long_timeline_into_strips(tmp_path: Path) -> None:
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:  # .ci/run installs it and fails on a skipped chromium test
        pytest.skip("the chromium print test needs pdftotext (apt-get install poppler-utils)")
    from bsstream.export.html import HtmlExport
    from bsstream.protocol.stream import METHOD_ANALYZE, StreamInfo, StreamOutcome
    from tests.test_export_html import long_call_messages

    sink = HtmlExport(tmp_path / "eleven.html")
    info = StreamInfo("long-call.wav", METHOD_ANALYZE, {}, duration=660.0)
    sink.begin(info)
    for m in long_call_messages(660):
        sink.message(m)
    sink.end(info, StreamOutcome(status=0, audio_seconds=660.0))
    sink.close()
    pdf = tmp_path / "eleven.pdf"
    proc = run_chromium(tmp_path, tmp_path / "eleven.html", f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert proc.returncode == 0 and pdf.exists(), proc.stderr[-2000:]
    assert console_lines(proc.stderr) == []
    printed = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    # 11 minutes on screen open on the first 5; on paper: six 2-minute strips, the whole call
    parts = re.findall(r"Part (\d) of 6: (\S+) – (\S+) of 11:00\.0", printed)
    assert parts == [(str(i + 1), f"{2 * i}:00.0", f"{min(2 * i + 2, 11)}:00.0") for i in range(6)], printed
    # every strip is drawn on one time scale: the last one's ticks reach the end of the call
    assert "10:45" in printed.split("Part 6 of 6")[1]


_LONG = (
    _REPORT
    + """
  var T = window.bsTimelines[0], root = document.getElementById("timeline-0");
  var first = root.querySelector(".tl-range").textContent;
  var ov = root.querySelector(".tl-overview"), rect = ov.getBoundingClientRect();
  ov.dispatchEvent(new MouseEvent("click", {clientX: rect.left + rect.width * 0.75, clientY: rect.top + 5,
    bubbles: true}));
  var win = root.querySelector(".ov-window");
  report({first: first, moved: root.querySelector(".tl-range").textContent, t0: T.view().t0, t1: T.view().t1,
    win: parseFloat(win.style.left), winWidth: parseFloat(win.style.width), pps: T.pxPerSec});
"""
)


@pytest.mark.timeout(60)
@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"browser tests need Debian's chromium at {CHROMIUM}")
def test_a_long_recording_opens_zoomed_with_an_overview_to_navigate(tmp_path: Path) -> None:
    from bsstream.export.html import HtmlExport
    from bsstream.protocol.stream import METHOD_ANALYZE, StreamInfo, StreamOutcome
    from tests.test_export_html import long_call_messages

    messages = long_call_messages(3600)
    sink = HtmlExport(tmp_path / "hour.html")
    info = StreamInfo("long-call.wav", METHOD_ANALYZE, {}, duration=3600.0)
    sink.begin(info)
    for m in messages:
        sink.message(m)
    sink.end(info, StreamOutcome(status=0, audio_seconds=3600.0))
    sink.close()
    got = probe_page(tmp_path, tmp_path / "hour.html", _LONG, "--window-size=1200,900")
    assert got["first"].startswith("0:00.0 – 5:00.0 of 1:00:00.0"), got  # detail: 5 minutes
    centre = (got["t0"] + got["t1"]) / 2
    assert centre == pytest.approx(2700, abs=5)  # a click at 3/4 of the overview centres the view there
    assert got["win"] == pytest.approx(got["t0"] / 36, abs=0.1) and got["winWidth"] == pytest.approx(
        300 / 36, abs=0.2
    )
