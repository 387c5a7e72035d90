"""INPUT specs -> the list of inputs to stream, and ``--shard K/N``.

Pure except for listing the filesystem. A spec is one of:

- ``-``: stdin, kept as is (at most once);
- a URL (``http://``, ``https://``) or a capture device (``mic:...``): kept as is (``path`` None);
- an existing file: taken as is, whatever its extension (the user named it);
- an existing directory: every audio or video file below it (recursive, extensions in
  :data:`MEDIA_EXTENSIONS`, case-insensitive), hidden files and directories (a name starting
  with ``.``) skipped, symlinked directories not followed. A directory with no such file is an
  :class:`~bsstream.status.InputError` (like a glob matching nothing);
- a glob (``*``, ``?`` or ``[`` and no file of that exact name): ``glob.glob(recursive=True)``
  (which skips hidden names). A matched directory is expanded like a directory; matched files
  are filtered by the media extensions unless the pattern's last component names an extension
  itself (``calls/**`` and ``rec_*`` keep media files only, ``*.wav`` or ``*.pcm`` take every
  match). A glob that yields nothing is an :class:`~bsstream.status.InputError` naming it;
- anything else (a path that does not exist): returned as is, so the decoder reports it as an
  input error for that input alone and the other inputs still run.

Order: specs in the order given; within a directory or a glob, sorted by path (component by
component, so it is the same on every machine). The same file reached twice (same resolved
path) appears once, at its first place.

Each :class:`Input` remembers its *root*: the directory given, or a glob's literal leading
directory. The path relative to the root (the spec itself for a plain file) is the input's
:func:`shard_key`, which ``--shard`` hashes and ``--output-dir`` mirrors, so both are the same
wherever the corpus is mounted.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from bsstream.status import InputError, UsageError

__all__ = [
    "MEDIA_EXTENSIONS",
    "STDIN",
    "Input",
    "check_input",
    "expand_inputs",
    "is_media_file",
    "parse_shard",
    "shard",
    "shard_key",
]

STDIN = "-"

#: Audio and video file extensions picked up from directories (lower case, without the dot).
MEDIA_EXTENSIONS: frozenset[str] = frozenset(
    {
        "wav", "mp3", "flac", "ogg", "oga", "opus", "m4a", "aac", "wma", "webm",
        "mp4", "mkv", "mov", "avi", "amr", "aiff", "aif", "caf", "3gp",
    }
)  # fmt: skip

_MAGIC = re.compile(r"[*?[]")


@dataclass(frozen=True, slots=True)
class Input:
    """One input to stream.

    ``spec`` is what to open (``"-"`` for stdin, a URL, ``mic:...``, else a path string, as the
    user wrote it or as listed under the directory / glob they gave); ``path`` is None for
    stdin, URLs and devices; ``root`` is the
    directory the input was found under (None for stdin and plain file specs).
    """

    spec: str
    path: Path | None
    root: Path | None = None

    @property
    def is_stdin(self) -> bool:
        return self.spec == STDIN


def is_media_file(path: Path) -> bool:
    """True for a name with an audio or video extension (case-insensitive)."""
    return path.suffix[1:].lower() in MEDIA_EXTENSIONS


def _sort_key(path: Path) -> tuple[str, ...]:
    return path.parts


def _walk(directory: Path) -> list[Path]:
    """Media files below ``directory`` (hidden entries skipped), sorted."""
    found: list[Path] = []
    for current, dirnames, filenames in os.walk(directory):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        base = Path(current)
        for name in filenames:
            if name.startswith("."):
                continue
            path = base / name
            if is_media_file(path):
                found.append(path)
    return sorted(found, key=_sort_key)


def _glob_root(pattern: str) -> Path:
    """The literal leading directory of a glob pattern (``data/**/*.wav`` -> ``data``)."""
    parts = Path(pattern).parts
    literal: list[str] = []
    for part in parts[:-1]:
        if _MAGIC.search(part):
            break
        literal.append(part)
    return Path(*literal) if literal else Path(".")


def _is_glob(spec: str) -> bool:
    return bool(_MAGIC.search(spec)) and not os.path.lexists(spec)


def _is_remote(spec: str) -> bool:
    """A URL (http://, https://) or a capture device (mic:): taken as is, never globbed (a
    presigned URL's query string has ``?``)."""
    return spec[:8].lower().startswith(("http://", "https://")) or spec.startswith("mic:")


def _expand_one(spec: str) -> list[Input]:
    if spec == STDIN or _is_remote(spec):
        return [Input(spec, None, None)]
    path = Path(spec)
    if path.is_dir():
        files = _walk(path)
        if not files:
            raise InputError(f"no audio or video files in directory {spec!r}")
        return [Input(str(f), f, path) for f in files]
    if _is_glob(spec):
        root = _glob_root(spec)
        matches = sorted((Path(m) for m in glob.glob(spec, recursive=True)), key=_sort_key)
        any_file = "." in Path(spec).name.lstrip(".")  # the pattern names an extension itself
        out: list[Input] = []
        for match in matches:
            if match.is_dir():
                out.extend(Input(str(f), f, root) for f in _walk(match))
            elif any_file or is_media_file(match):
                out.append(Input(str(match), match, root))
        if not matches:
            raise InputError(f"no input matches {spec!r}")
        if not out:
            raise InputError(f"no audio or video files match {spec!r}")
        return out
    return [Input(spec, path, None)]  # a file, or a missing path the decoder will report


def expand_inputs(specs: list[str]) -> list[Input]:
    """Every input the specs name, in order, each file once (see the module docstring).

    Raises InputError for a glob (or directory) that yields nothing, UsageError for ``-`` given twice.
    """
    if specs.count(STDIN) > 1:
        raise UsageError("stdin ('-') can be given only once")
    seen: set[str] = set()
    out: list[Input] = []
    for spec in specs:
        for inp in _expand_one(spec):
            # realpath, not Path.resolve: a symlink loop must not abort the batch (it is that
            # input's error, see check_input)
            ident = inp.spec if inp.path is None else os.path.realpath(inp.path)
            if ident in seen:
                continue
            seen.add(ident)
            out.append(inp)
    return out


def check_input(inp: Input) -> None:
    """InputError for what no decoder should be asked to open: a symlink loop (``a.wav`` ->
    ``b.wav`` -> ``a.wav``). Everything else (missing, unreadable, not audio) is the
    decoder's to report."""
    if inp.path is None:
        return
    try:
        os.stat(inp.path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(
                f"{inp.spec}: symlink loop", hint="the link never reaches a file; fix or remove it"
            ) from None


def shard_key(inp: Input) -> str:
    """What ``--shard`` hashes: the path relative to the input's root in POSIX form (the spec
    as given for a plain file or stdin), so it does not depend on where the corpus lives."""
    if inp.path is None or inp.root is None:
        return inp.spec
    try:
        return inp.path.relative_to(inp.root).as_posix()
    except ValueError:
        return inp.path.as_posix()


def _bucket(key: str, n: int) -> int:
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % n


def shard(inputs: list[Input], k: int, n: int) -> list[Input]:
    """The inputs of shard ``k`` of ``n`` (``k`` is 1-based: 1..n), order kept.

    An input belongs to shard ``sha256(shard_key) mod n + 1``: the ``n`` shards are disjoint,
    together cover every input, and the split is the same on every machine and mount point.
    """
    if n < 1 or not 1 <= k <= n:
        raise ValueError(f"shard {k}/{n}: K must be in 1..N")
    return [inp for inp in inputs if _bucket(shard_key(inp), n) == k - 1]


_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> ``(k, n)``; K is 1-based (``1/4`` .. ``4/4``). UsageError when malformed."""
    match = _SHARD.fullmatch(text)
    if match is None:
        raise UsageError(f"--shard {text!r}: expected K/N with whole numbers, e.g. 1/4")
    k, n = int(match.group(1)), int(match.group(2))
    if n < 1:
        raise UsageError(f"--shard {text!r}: N must be at least 1")
    if not 1 <= k <= n:
        raise UsageError(f"--shard {text!r}: K must be between 1 and N (K counts from 1)")
    return k, n
