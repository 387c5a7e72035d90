"""Layering: an import allowlist per package (in the manner of click's tests/test_imports.py),
and the runtime checks that the pure core loads no grpc, rich or click and ``--help`` no heavy
modules.

Every module of the ``bsstream`` package is parsed with :mod:`ast`; every import in it (at module
level, inside functions, under ``TYPE_CHECKING``) of a bsstream module or of a third-party
package must be allowed by the rule of the module's *unit*: ``bsstream.<first name>``, a
subpackage (``bsstream.audio``) or a top-level module (``bsstream.settings``). A unit may always
import itself and the standard library. An entry allows that module and everything below it
(``bsstream.render`` allows ``bsstream.render.jsonl``; ``bsstream.render.palette`` only itself).

``DEBT`` lists imports that are allowed today but break the layering: each is a change to
make, not a rule. When one goes away, its entry must go too (``test_debt_is_still_real``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bsstream

PACKAGE_DIR = Path(bsstream.__file__).parent

# -- the rules ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    why: str  # what the unit is, so why these imports (one line)
    internal: tuple[str, ...] = ()  # bsstream modules/packages it may import
    external: tuple[str, ...] = ()  # third-party top-level packages it may import


_ROOT = "bsstream"  # the package itself (its face: the public names, loaded on first use)

RULES: dict[str, Rule] = {
    # -- generated and foundation ----------------------------------------------------------------
    "bsstream": Rule(
        "the package root: the version and the public API's names, loaded on first use",
        (
            "bsstream.aio",
            "bsstream.api",
            "bsstream.emulator.server",
            "bsstream.engine.options",
            "bsstream.protocol.results",
            "bsstream.protocol.summary",
            "bsstream.status",
            "bsstream.version",
        ),
    ),
    "bsstream._gen": Rule("generated protobuf and gRPC stubs", (), ("google", "grpc")),
    "bsstream.status": Rule("exit statuses and the error types: the bottom layer"),
    "bsstream.version": Rule("the version string: the bottom layer"),
    "bsstream.streamkind": Rule("what kind of file a stream is (terminal, pipe, ...): stdlib only"),
    "bsstream.settings": Rule(
        "credentials and endpoint from flags, env, .env", ("bsstream.status",), ("dotenv",)
    ),
    "bsstream.display": Rule("text for one line of display (escapes, times, shares): stdlib only"),
    "bsstream.redact": Rule(
        "keeps secrets out of every line written, and the one stderr writer", ("bsstream.display",)
    ),
    # -- the pure core -----------------------------------------------------------------------------
    "bsstream.protocol": Rule(
        "pure protocol: request messages, result model, JSON lines; no transport, no display",
        ("bsstream._gen", "bsstream.audio.format", "bsstream.status", "bsstream.version"),
    ),
    "bsstream.audio": Rule(
        "audio in: decoding, resampling, chunks, devices, URLs; knows nothing of the wire",
        ("bsstream.status", "bsstream.redact"),
        # audioop: the stdlib's up to 3.12, the audioop-lts package from 3.13 (a dependency there)
        ("numpy", "soxr", "pydub", "imageio_ffmpeg", "audioop"),
    ),
    "bsstream.netcheck": Rule("DNS/TCP/TLS facts about an endpoint, without grpc", ("bsstream.settings",)),
    "bsstream.diagnose": Rule(
        "why a first connection failed, from netcheck's facts",
        ("bsstream.netcheck", "bsstream.settings", "bsstream.status"),
    ),
    # -- the wire and the stream -------------------------------------------------------------------
    "bsstream.transport": Rule(
        "the gRPC channel and calls",
        (
            "bsstream._gen",
            "bsstream.diagnose",
            "bsstream.protocol.methods",
            "bsstream.settings",
            "bsstream.status",
        ),
        ("grpc",),
    ),
    "bsstream.engine": Rule(
        "the stream engine: feeding audio, the attempt loop, the wire (being built: issue 15)",
        (
            "bsstream._gen",
            "bsstream.audio",
            "bsstream.diagnose",
            "bsstream.protocol",
            "bsstream.settings",
            "bsstream.status",
            "bsstream.transport",
        ),
        ("grpc",),
    ),
    "bsstream.interrupts": Rule(
        "Ctrl-C / SIGTERM state of a run; the engine's stop and abort made on first use (no grpc before)",
        ("bsstream.engine", "bsstream.status"),
    ),
    "bsstream.session": Rule(
        "one input's stream, as the CLI drives it",
        (
            "bsstream.engine",
            "bsstream.interrupts",
            "bsstream.protocol",
            "bsstream.settings",
            "bsstream.status",
        ),
    ),
    "bsstream.api": Rule(
        "the public sync API (analyze, deepfake, stream): a face over the engine",
        ("bsstream.engine", "bsstream.protocol"),
    ),
    "bsstream.aio": Rule(
        "the public asyncio API: the same face, async iterators", ("bsstream.engine", "bsstream.protocol")
    ),
    # -- presentation and outputs ------------------------------------------------------------------
    "bsstream.render": Rule(
        "terminal and --json output of results (Rich): reads the model, nothing else",
        ("bsstream.display", "bsstream.protocol"),
        ("rich",),
    ),
    "bsstream.export": Rule(
        "the --output files (csv, json, jsonl, html, srt/vtt): the model in, files out",
        (
            "bsstream.version",
            "bsstream.display",
            "bsstream.protocol",
            "bsstream.status",
            "bsstream.render.palette",
            "bsstream.audio.ffmpeg",
            "bsstream.audio.wav",
        ),
        ("numpy",),
    ),
    "bsstream.scan": Rule(
        "scan: both methods' streams of one input merged", ("bsstream.protocol", "bsstream.status")
    ),
    "bsstream.split": Rule(
        "--channels split: one stream per channel, merged",
        ("bsstream.display", "bsstream.protocol", "bsstream.scan", "bsstream.status"),
    ),
    "bsstream.batch": Rule(
        "many inputs: expansion, --output-dir, --fail-on, progress and the end-of-run report",
        (
            "bsstream.display",
            "bsstream.protocol",
            "bsstream.status",
            "bsstream.export.atomic",
            "bsstream.export.guard",
        ),
        ("rich",),
    ),
    # -- commands --------------------------------------------------------------------------------
    "bsstream.helptext": Rule("the --help layout shared by the commands", (), ("click",)),
    "bsstream.options": Rule("Click options several commands share (one definition each)", (), ("click",)),
    "bsstream.emulator": Rule(
        "the local emulator server and its serve command",
        (
            "bsstream._gen",
            "bsstream.helptext",
            "bsstream.protocol.methods",
            "bsstream.redact",
            "bsstream.settings",
            "bsstream.status",
        ),
        ("grpc", "numpy", "webrtcvad", "click"),
    ),
    "bsstream.doctor": Rule(
        "bsstream doctor: one line per connection check",
        (
            "bsstream.netcheck",
            "bsstream.protocol",
            "bsstream.settings",
            "bsstream.status",
            "bsstream.transport",
        ),
    ),
    "bsstream.replay": Rule(
        "bsstream replay: a saved --json stream re-rendered",
        (
            "bsstream.display",
            "bsstream.export",
            "bsstream.helptext",
            "bsstream.options",
            "bsstream.protocol",
            "bsstream.redact",
            "bsstream.render",
            "bsstream.status",
        ),
        ("click", "rich"),
    ),
    "bsstream.app": Rule(
        "a run's wiring: inputs, sessions, sinks, outputs, exit status",
        (
            "bsstream.audio",
            "bsstream.batch",
            "bsstream.emulator",
            "bsstream.engine.options",
            "bsstream.export",
            "bsstream.interrupts",
            "bsstream.protocol",
            "bsstream.redact",
            "bsstream.render",
            "bsstream.scan",
            "bsstream.session",
            "bsstream.settings",
            "bsstream.split",
            "bsstream.status",
            "bsstream.streamkind",
            "bsstream.transport",
        ),
        ("rich",),
    ),
    "bsstream.cli": Rule(
        "the Click commands: options in, a run out (the top layer)",
        (
            "bsstream.version",
            "bsstream.app",
            "bsstream.audio",
            "bsstream.doctor",
            "bsstream.engine.options",
            "bsstream.protocol.methods",
            "bsstream.emulator",
            "bsstream.helptext",
            "bsstream.options",
            "bsstream.redact",
            "bsstream.render",
            "bsstream.replay",
            "bsstream.settings",
            "bsstream.status",
        ),
        ("click",),
    ),
    "bsstream.__main__": Rule("python -m bsstream", ("bsstream.cli",)),
}

# Imports allowed today that break the layering: (unit, imported module) -> what to change.
DEBT: dict[tuple[str, str], str] = {}  # none left: add one here only with the change it asks for


# -- reading the imports -------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


MODULES = _modules()


def unit_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _dynamic(node: ast.Call) -> str | None:
    """The module of ``__import__("x")`` or ``importlib.import_module("x")`` (a literal name)."""
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    if name not in ("__import__", "import_module") or not node.args:
        return None
    first = node.args[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def imports_of(module: str) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import in ``module``; ``from X import Y`` is X.Y when
    that is a bsstream module, else X; ``__import__("X")`` and ``import_module("X")`` are X."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, module, path.name == "__init__.py")
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield node.lineno, sub if sub in MODULES else base
        elif isinstance(node, ast.Call) and (name := _dynamic(node)) is not None:
            yield node.lineno, name


def _is_stdlib(name: str) -> bool:
    top = name.split(".")[0]
    return top == "__future__" or top in sys.stdlib_module_names


def _covers(entry: str, name: str) -> bool:
    return name == entry or name.startswith(entry + ".")


def _allowed(unit: str, name: str) -> bool:
    rule = RULES[unit]
    if name.split(".")[0] != "bsstream":
        return name.split(".")[0] in rule.external
    if name == _ROOT:
        return _ROOT in rule.internal or unit == _ROOT
    if _covers(unit, name) and unit != _ROOT:
        return True
    entries = [*rule.internal, *(target for (u, target) in DEBT if u == unit)]
    return any(_covers(e, name) for e in entries if e != _ROOT)


# -- the tests -------------------------------------------------------------------------------------


def test_every_module_has_a_rule() -> None:
    missing = sorted({unit_of(m) for m in MODULES} - set(RULES))
    assert not missing, (
        f"no layering rule for {', '.join(missing)}: add one to RULES in tests/test_imports.py "
        "(a one-line reason, the bsstream modules and third-party packages it may import)"
    )


def test_imports_follow_the_rules() -> None:
    wrong: list[str] = []
    for module in MODULES:
        unit = unit_of(module)
        if unit not in RULES:
            continue  # reported by test_every_module_has_a_rule
        for line, name in imports_of(module):
            path = MODULES[module].relative_to(PACKAGE_DIR.parent)
            text = f"{path}:{line}: {unit} may not import {name} ({RULES[unit].why})"
            if not (_is_stdlib(name) or _allowed(unit, name) or text in wrong):
                wrong.append(text)
    assert not wrong, (
        "imports outside the layering rules (tests/test_imports.py RULES; move the code, or change "
        "the rule with its reason):\n" + "\n".join(wrong)
    )


def test_debt_is_still_real() -> None:
    found = {(unit_of(m), name) for m in MODULES for _, name in imports_of(m)}
    gone = [
        f"{unit} -> {target}"
        for (unit, target) in DEBT
        if not any(u == unit and _covers(target, name) for u, name in found)
    ]
    assert not gone, f"no longer imported, remove from DEBT in tests/test_imports.py: {', '.join(gone)}"


def test_units_import_each_other_in_no_cycle() -> None:
    """Between units (DEBT aside) the imports go one way: no unit reaches back to itself."""
    debt = {(u, unit_of(target)) for u, target in DEBT}
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        for _, name in imports_of(module):
            edge = (unit_of(module), unit_of(name))
            if name.startswith("bsstream.") and edge[0] != edge[1] and edge not in debt:
                graph.setdefault(edge[0], set()).add(edge[1])

    def path_back(start: str, at: str, path: tuple[str, ...], visited: set[str]) -> tuple[str, ...] | None:
        for nxt in sorted(graph.get(at, ())):
            if nxt == start:
                return (*path, nxt)
            if nxt not in visited:
                visited.add(nxt)
                found = path_back(start, nxt, (*path, nxt), visited)
                if found:
                    return found
        return None

    cycles = [" -> ".join(c) for u in sorted(graph) if (c := path_back(u, u, (u,), set()))]
    assert not cycles, "import cycles between units:\n" + "\n".join(cycles)


def test_rules_name_real_modules() -> None:
    entries = [(u, e) for u, rule in RULES.items() for e in rule.internal] + list(DEBT)
    unknown = [f"{u}: {e}" for u, e in entries if e not in MODULES]
    assert not unknown, f"rules naming no bsstream module: {', '.join(unknown)}"


def test_the_checker_catches_a_forbidden_import() -> None:
    """The rule check itself: a lower layer importing an upper one, or a display library, fails."""
    assert not _allowed("bsstream.protocol", "bsstream.render")
    assert not _allowed("bsstream.protocol", "grpc")
    assert not _allowed("bsstream.audio", "bsstream.protocol.messages")  # the format is audio's
    assert not _allowed("bsstream.render", "bsstream.batch")
    assert _allowed("bsstream.render", "bsstream.protocol.results")
    assert _allowed("bsstream.export", "bsstream.render.palette")
    assert not _allowed("bsstream.export", "bsstream.render.live")
    assert ("bsstream.protocol", "bsstream.audio.format") in {
        (unit_of(m), n) for m in MODULES for _, n in imports_of(m)
    }


# -- at run time -----------------------------------------------------------------------------------

PURE = [
    "bsstream.audio.chunks",
    "bsstream.audio.sniff",
    "bsstream.protocol.messages",
    "bsstream.protocol.results",
    "bsstream.protocol.summary",
    "bsstream.protocol.timeline",
    "bsstream.protocol.resume",
    "bsstream.protocol.stats",
    "bsstream.protocol.stream",
    "bsstream.protocol.jsonlines",
    "bsstream.protocol.jsontypes",
    "bsstream.status",
    "bsstream.settings",
    "bsstream.redact",
    "bsstream.display",
    "bsstream.netcheck",  # finds gRPC's trusted roots by path, without importing grpc
    "bsstream.diagnose",
]
FORBIDDEN = ["grpc", "rich", "click", "pydub", "numpy"]


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(out.split())


def test_pure_core_imports_no_transport_or_presentation() -> None:
    loaded = _loaded_after("\n".join(f"import {m}" for m in PURE))
    assert not {m for m in loaded if m.split(".")[0] in FORBIDDEN}


def test_help_imports_no_heavy_modules() -> None:
    loaded = _loaded_after(
        "import sys\nfrom bsstream.cli import main\n"
        "sys.argv=['bsstream','--help']\n"
        "import contextlib, io\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf): rc = main(['--help'])\n"
        "assert rc == 0 and 'analyze' in buf.getvalue() and 'serve' in buf.getvalue(), buf.getvalue()"
    )
    assert not {m for m in loaded if m.split(".")[0] in ("grpc", "rich", "pydub", "numpy", "webrtcvad")}
