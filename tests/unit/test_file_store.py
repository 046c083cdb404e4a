"""The attachments folder: bytes stored once under their hash, never a path from user input."""

import hashlib

import pytest

from bot.services.file_store import FileStore


def test_bytes_are_stored_once_under_their_sha256(tmp_path):
    store = FileStore(tmp_path / "attachments")
    sha = store.put(b"screenshot bytes")
    assert sha == hashlib.sha256(b"screenshot bytes").hexdigest()
    assert store.path(sha) == tmp_path / "attachments" / sha[:2] / sha
    assert store.read(sha) == b"screenshot bytes"
    assert store.put(b"screenshot bytes") == sha
    assert [p.name for p in (tmp_path / "attachments").rglob("*") if p.is_file()] == [sha]


def test_a_changed_or_missing_file_is_told_apart_from_a_good_one(tmp_path):
    store = FileStore(tmp_path)
    sha = store.put(b"deploy log")
    assert store.check(sha) == "ok"
    store.path(sha).write_bytes(b"deploy log, edited")
    assert store.check(sha) == "changed"
    store.path(sha).unlink()
    assert store.check(sha) == "missing" and store.read(sha) is None


@pytest.mark.parametrize("name", ["../../etc/passwd", "ab/../../x", "A" * 64, "", "0" * 63])
def test_a_name_that_is_not_a_sha256_never_becomes_a_path(tmp_path, name):
    with pytest.raises(ValueError):
        FileStore(tmp_path).path(name)
