"""Build the API reference: static HTML from the public modules' docstrings, with pdoc.

    python docs/build.py                 # writes build/api/ (open build/api/index.html)
    python docs/build.py --out DIR       # somewhere else
    python docs/build.py --check         # also fail on a public name without a docstring

Needs the dev extra (``pip install -e '.[dev]'`` brings ``pdoc``) and no network: pdoc renders
from the imported modules, and the pages it writes load nothing from elsewhere (the search index
and its script are files beside them). Any warning pdoc raises (a module that does not import, an
annotation it cannot resolve, a link to a name it cannot find) fails the build, as does, with
``--check``, a public module, class, function or method whose docstring is missing.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "build" / "api"

# The public API: these modules and nothing under them (the rest of bsstream is internals). The
# result model, the options and the errors are documented where bsstream exports them.
PUBLIC_MODULES = ("bsstream", "bsstream.aio", "bsstream.emulator")


def module_specs(modules: tuple[str, ...] = PUBLIC_MODULES) -> list[str]:
    """pdoc's module specs: the public modules (pdoc walks into a package's submodules, those
    its ``__all__`` names), then an exclusion of every module that is not public."""
    import pdoc.extract

    keep = "|".join(re.escape(m) for m in modules)
    exclude = f"!(?!(?:{keep})$)"
    specs: list[str] = []
    for name in modules:  # each once: pdoc warns about a module two specs reach
        if not specs or name not in pdoc.extract.walk_specs([*specs, exclude]):
            specs.append(name)
    return [*specs, exclude]


def materialize(modules: tuple[str, ...] = PUBLIC_MODULES) -> None:
    """Resolve names a public module exports lazily (a module ``__getattr__`` keeps ``import
    bsstream`` light): pdoc reads a module's ``__dict__``, so each name in ``__all__`` is looked
    up once and stored there."""
    import importlib

    for name in modules:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", ()):
            if attr not in module.__dict__:
                setattr(module, attr, getattr(module, attr))


def _public_names(module: object) -> set[str] | None:
    names = getattr(module, "__all__", None)
    return None if names is None else set(names)


def undocumented(modules: tuple[str, ...] = PUBLIC_MODULES) -> Iterator[str]:
    """Public modules, classes, functions and methods without a docstring: a module's
    ``__all__`` (else its names without a leading underscore) and a class's own members without
    a leading underscore. Variables (enum members, dataclass fields) are not checked."""
    import pdoc.doc

    kinds = (pdoc.doc.Module, pdoc.doc.Class, pdoc.doc.Function)

    def walk(doc: pdoc.doc.Doc) -> Iterator[str]:  # type: ignore[type-arg]
        if not isinstance(doc, kinds):
            return
        if not doc.docstring.strip():
            yield doc.fullname
        members: list[pdoc.doc.Doc] = []  # type: ignore[type-arg]
        if isinstance(doc, pdoc.doc.Module):
            public = _public_names(doc.obj)
            members = [
                m
                for name, m in doc.members.items()
                if (name in public if public is not None else not name.startswith("_"))
                and not isinstance(m, pdoc.doc.Module)
            ]
        elif isinstance(doc, pdoc.doc.Class):
            members = [m for m in doc.own_members if not m.name.startswith("_")]
        for member in members:
            yield from walk(member)

    seen: set[str] = set()
    for name in modules:
        for fullname in walk(pdoc.doc.Module.from_name(name)):
            if fullname not in seen:
                seen.add(fullname)
                yield fullname


def build(out: Path, *, check: bool = False) -> list[str]:
    """Write the HTML into ``out``; return the problems (warnings, missing docstrings)."""
    import pdoc
    import pdoc.render

    pdoc.render.configure(
        docformat="restructuredtext",
        show_source=False,
        footer_text="bsstream API reference",
    )
    problems: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # run from a checkout with the package installed non-editable (CI's clone, an sdist),
        # pdoc notes that "bsstream" names both: it documents the installed one, as wanted
        warnings.filterwarnings("ignore", message=".*may refer to either the installed Python module")
        materialize()
        pdoc.pdoc(*module_specs(), output_directory=out)
        if check:
            problems += [f"no docstring: {name}" for name in undocumented()]
    problems = [f"pdoc: {w.message}" for w in caught] + problems
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python docs/build.py", description="Build the API reference.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="default: build/api")
    parser.add_argument("--check", action="store_true", help="fail on public names without a docstring")
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    problems = build(args.out, check=args.check)
    for problem in problems:
        print(f"docs: {problem}", file=sys.stderr)
    pages = sum(1 for _ in args.out.rglob("*.html"))
    print(f"docs: {pages} pages in {args.out} ({time.monotonic() - t0:.1f} s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
