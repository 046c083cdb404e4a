"""The attachments folder: each file's bytes stored once, named by their sha256.

No path is ever built from anything a person sent: the name is the hash (checked to be 64 hex
digits), under a folder of its first two digits so no folder grows too large. A file is
written to a temporary name and renamed, so a crash never leaves half a file under a hash.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # bytes; the largest file Telegram lets a bot download


class FileStore:
    """Content-addressed storage under `root`."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, sha256: str) -> Path:
        """Where the file with this hash lives; a malformed hash is refused."""
        if not _SHA256.fullmatch(sha256):
            raise ValueError("not a sha256 in hex")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store `data` (once: the same bytes again change nothing); returns its sha256."""
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path(sha256)
        if target.is_file():
            return sha256
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return sha256

    def read(self, sha256: str) -> bytes | None:
        """The stored bytes, or None when the file is not there."""
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            return None

    def check(self, sha256: str) -> str:
        """`ok`, `missing` or `changed`: whether the stored bytes still hash to their name."""
        path = self.path(sha256)
        if not path.is_file():
            return "missing"
        digest = hashlib.sha256()
        with path.open("rb") as stored:
            for block in iter(lambda: stored.read(1 << 20), b""):
                digest.update(block)
        return "ok" if digest.hexdigest() == sha256 else "changed"
