"""batch.inputs: directory / glob expansion, order, filters, dedupe, and --shard."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bsstream.batch.inputs import Input, expand_inputs, parse_shard, shard, shard_key
from bsstream.status import InputError, UsageError


def touch(root: Path, *names: str) -> None:
    for name in names:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


def specs(inputs: list[Input]) -> list[str]:
    return [i.spec for i in inputs]


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    touch(
        tmp_path / "calls",
        "b.wav", "a.MP3", "notes.txt", "z/c.flac", "z/d.Opus", "y/e.mkv", "f.aif", "g.3gp",
        ".hidden.wav", ".secret/h.wav", "y/.i.wav", "README", "k.wav.part",
    )  # fmt: skip
    touch(tmp_path, "one.wav", "two.ogg", "three.txt")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_directory_is_recursive_sorted_and_filtered(corpus: Path) -> None:
    got = expand_inputs(["calls"])
    assert specs(got) == [
        "calls/a.MP3",
        "calls/b.wav",
        "calls/f.aif",
        "calls/g.3gp",
        "calls/y/e.mkv",
        "calls/z/c.flac",
        "calls/z/d.Opus",
    ]
    assert all(i.root == Path("calls") for i in got)
    assert [shard_key(i) for i in got][-1] == "z/d.Opus"


def test_trailing_slash_and_dot_prefix_normalise(corpus: Path) -> None:
    assert specs(expand_inputs(["./calls/"])) == specs(expand_inputs(["calls"]))


def test_specs_keep_their_order_and_files_are_taken_as_given(corpus: Path) -> None:
    got = expand_inputs(["two.ogg", "calls/z", "three.txt", "-", "one.wav"])
    assert specs(got) == ["two.ogg", "calls/z/c.flac", "calls/z/d.Opus", "three.txt", "-", "one.wav"]
    assert got[0] == Input("two.ogg", Path("two.ogg"), None)
    assert got[3].path == Path("three.txt")  # an explicit file is not filtered by extension
    assert got[4] == Input("-", None, None) and got[4].is_stdin


def test_missing_path_is_kept_for_the_decoder_to_report(corpus: Path) -> None:
    got = expand_inputs(["nope.wav", "one.wav"])
    assert specs(got) == ["nope.wav", "one.wav"]
    assert got[0].root is None


def test_glob_sorted_and_rooted_at_its_literal_prefix(corpus: Path) -> None:
    got = expand_inputs(["calls/**/*.wav"])
    assert specs(got) == ["calls/b.wav"]  # hidden entries skipped by glob too
    assert got[0].root == Path("calls")
    got = expand_inputs(["calls/*/*"])
    assert specs(got) == ["calls/y/e.mkv", "calls/z/c.flac", "calls/z/d.Opus"]
    assert [shard_key(i) for i in got] == ["y/e.mkv", "z/c.flac", "z/d.Opus"]
    got = expand_inputs(["*.wav", "*.ogg"])
    assert specs(got) == ["one.wav", "two.ogg"]


def test_glob_matching_a_directory_expands_it(corpus: Path) -> None:
    assert specs(expand_inputs(["calls/[z]"])) == ["calls/z/c.flac", "calls/z/d.Opus"]


def test_bare_wildcard_globs_keep_media_files_only(corpus: Path) -> None:
    assert specs(expand_inputs(["calls/**"])) == specs(expand_inputs(["calls"]))
    assert specs(expand_inputs(["*"])) == [*specs(expand_inputs(["calls"])), "one.wav", "two.ogg"]
    assert specs(expand_inputs(["t*"])) == ["two.ogg"]
    assert specs(expand_inputs(["*.txt"])) == ["three.txt"]  # the pattern names the extension
    assert specs(expand_inputs(["calls/*.part"])) == ["calls/k.wav.part"]
    with pytest.raises(InputError, match=r"no audio or video files match 'calls/READ\*'"):
        expand_inputs(["calls/READ*"])


def test_glob_matching_nothing_is_a_usage_error(corpus: Path) -> None:
    with pytest.raises(InputError, match=r"no input matches 'calls/\*\.wma'"):
        expand_inputs(["one.wav", "calls/*.wma"])


def test_directory_without_media_is_a_usage_error(corpus: Path) -> None:
    (corpus / "empty").mkdir()
    with pytest.raises(InputError, match="no audio or video files in directory 'empty'"):
        expand_inputs(["empty"])


def test_existing_file_with_glob_characters_is_a_file(corpus: Path) -> None:
    touch(corpus, "take[1].wav")
    assert specs(expand_inputs(["take[1].wav"])) == ["take[1].wav"]


def test_duplicates_appear_once_at_their_first_place(corpus: Path) -> None:
    got = expand_inputs(["calls/b.wav", "calls", "./calls/b.wav", str(corpus / "one.wav"), "one.wav"])
    assert specs(got) == [
        "calls/b.wav",
        "calls/a.MP3",
        "calls/f.aif",
        "calls/g.3gp",
        "calls/y/e.mkv",
        "calls/z/c.flac",
        "calls/z/d.Opus",
        str(corpus / "one.wav"),
    ]


def test_stdin_twice_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="only once"):
        expand_inputs(["-", "-"])


# -- sharding ----------------------------------------------------------------------------


def _generated(root: Path, count: int = 200) -> list[Input]:
    rng = random.Random(7)
    out = []
    for i in range(count):
        rel = Path(f"d{rng.randrange(6)}") / f"rec-{i:03d}.{rng.choice(['wav', 'mp3', 'flac'])}"
        out.append(Input(str(root / rel), root / rel, root))
    return out


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_shards_are_disjoint_complete_and_keep_order(n: int) -> None:
    inputs = _generated(Path("/data/corpus"))
    parts = [shard(inputs, k, n) for k in range(1, n + 1)]
    seen = [i.spec for part in parts for i in part]
    assert len(seen) == len(set(seen)) == len(inputs)
    for part in parts:
        assert part == [i for i in inputs if i in part]  # order kept
    if n > 1:
        assert all(0 < len(p) < len(inputs) for p in parts)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_shards_do_not_depend_on_the_absolute_root(n: int) -> None:
    here = _generated(Path("/data/corpus"))
    there = _generated(Path("/mnt/other/place"))
    for k in range(1, n + 1):
        assert [shard_key(i) for i in shard(here, k, n)] == [shard_key(i) for i in shard(there, k, n)]


def test_plain_file_shard_key_is_the_spec_and_value_is_stable() -> None:
    inp = Input("calls/a.wav", Path("calls/a.wav"), None)
    assert shard_key(inp) == "calls/a.wav"
    # sha256("calls/a.wav") pins the bucket: the split must never change between versions
    assert [k for k in range(1, 5) if shard([inp], k, 4)] == [_expected_bucket("calls/a.wav", 4)]


def _expected_bucket(key: str, n: int) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % n + 1


def test_parse_shard() -> None:
    assert parse_shard("1/4") == (1, 4)
    assert parse_shard(" 4 / 4 ") == (4, 4)
    assert parse_shard("1/1") == (1, 1)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("0/4", "K must be between 1 and N"),
        ("5/4", "K must be between 1 and N"),
        ("1/0", "N must be at least 1"),
        ("1-4", "expected K/N"),
        ("a/b", "expected K/N"),
        ("", "expected K/N"),
        ("-1/4", "expected K/N"),
        ("1/4/2", "expected K/N"),
    ],
)
def test_parse_shard_malformed(text: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem) as info:
        parse_shard(text)
    assert repr(text) in info.value.message
