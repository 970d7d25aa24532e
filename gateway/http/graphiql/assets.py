"""The IDE's static files, read once from the installed package and served from memory.

One digest names the whole set and is part of every asset's URL, so a browser may keep an asset
forever (``immutable``): a gateway with other files serves them under another path.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["STATIC_DIR", "Asset", "Assets", "packaged_assets"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
DIGEST_CHARS = 16
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@dataclass(slots=True)
class Asset:
    """One file's bytes and media type; its gzip form is made on first request and kept."""

    body: bytes
    media_type: str
    gzipped: bytes | None = field(default=None, repr=False)

    def compress(self) -> bytes:
        """The gzip form, made once (~50 ms for GraphiQL's script: call it off the event loop)."""
        if self.gzipped is None:
            self.gzipped = gzip.compress(self.body, compresslevel=9, mtime=0)
        return self.gzipped


class Assets:
    """Every file under ``folder`` by its relative POSIX path, and the digest of them all."""

    def __init__(self, folder: Path = STATIC_DIR) -> None:
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        if not files:
            raise FileNotFoundError(f"{folder}: no GraphiQL assets (scripts/update-graphiql)")
        self._by_name: dict[str, Asset] = {}
        digest = hashlib.sha256()
        for path in files:
            name = path.relative_to(folder).as_posix()
            body = path.read_bytes()
            digest.update(name.encode() + b"\0" + hashlib.sha256(body).digest())
            media_type = _TYPES.get(path.suffix) or (
                mimetypes.guess_type(name)[0] or "application/octet-stream"
            )
            if media_type.startswith(("text/", "application/json")) and "charset" not in media_type:
                media_type += "; charset=utf-8"
            self._by_name[name] = Asset(body, media_type)
        self.digest = digest.hexdigest()[:DIGEST_CHARS]

    def get(self, name: str) -> Asset | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return sorted(self._by_name)


@functools.cache
def packaged_assets() -> Assets:
    """The installed package's files, read once per process however many apps it makes."""
    return Assets()
