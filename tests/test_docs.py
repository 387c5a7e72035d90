"""The API reference builds (docs/build.py, pdoc) without warnings or undocumented public names,
covers the public modules and nothing else, and loads nothing from the network."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def docs_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bsstream_docs_build", ROOT / "docs" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_api_reference_builds_cleanly_and_names_the_public_api(tmp_path: Path) -> None:
    build = docs_build()
    problems = build.build(tmp_path, check=True)
    assert problems == []
    pages = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.html")}
    expected = {"index.html"} | {m.replace(".", "/") + ".html" for m in build.PUBLIC_MODULES}
    assert pages == expected  # the public modules, and no internals
    top = (tmp_path / "bsstream.html").read_text(encoding="utf-8")
    for name in ("stream", "analyze", "deepfake", "Method", "Options", "Connection", "summarize", "BsError"):
        assert f'id="{name}"' in top, name
    aio = (tmp_path / "bsstream" / "aio.html").read_text(encoding="utf-8")
    for name in ("stream", "analyze", "deepfake"):
        assert f'id="{name}"' in aio, name
    everything = "".join(p.read_text(encoding="utf-8") for p in tmp_path.rglob("*.html"))
    for name in ("ResultMessage", "Result", "Summary", "Emulator"):
        assert f'id="{name}"' in everything, name
    # nothing is fetched when a page is opened: no remote scripts, styles or images
    assert not re.search(r'<(?:script|img)[^>]+src="(?:https?:)?//', everything)
    assert not re.search(r'<link[^>]+href="(?:https?:)?//', everything)


def test_module_specs_keep_only_the_public_modules() -> None:
    build = docs_build()
    *included, exclude = build.module_specs(("bsstream", "bsstream.aio"))
    assert included == ["bsstream"] and exclude.startswith("!")
    pattern = re.compile(exclude[1:])
    assert not pattern.match("bsstream") and not pattern.match("bsstream.aio")
    assert pattern.match("bsstream.session") and pattern.match("bsstream.aio.engine")
