"""The blob store's seam and its local-folder implementation.

    BlobStore.put(stream, max_bytes=...) -> StoredBlob(sha256, size)
    BlobStore.open(sha256) -> a binary stream to read and close
    BlobStore.exists(sha256) -> bool

Errors (``cloud.errors``): ``BlobTooLargeError`` (an ``InvalidRequestError``: nothing is
kept), ``BlobNotFoundError`` (a ``NotFoundError``), ``StorageUnavailableError`` when the
folder cannot be written or read.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from cloud.errors import InvalidRequestError, NotFoundError, StorageUnavailableError

SHA256_PATTERN = r"^[0-9a-f]{64}$"
_SHA256 = re.compile(SHA256_PATTERN)
CHUNK_BYTES = 64 * 1024


class BlobTooLargeError(InvalidRequestError):
    """A stream longer than the ``max_bytes`` it was put with; nothing of it was kept."""


class BlobNotFoundError(NotFoundError):
    """No blob of that hash in the store."""


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """A blob in the store: the SHA-256 of its bytes (lowercase hex) and their number."""

    sha256: str
    size: int


class BlobStore(Protocol):
    """Where blobs are kept. A put is whole or nothing: a reader never sees half a blob."""

    def put(self, stream: Readable, *, max_bytes: int | None = None) -> StoredBlob:
        """Read ``stream`` to its end and keep its bytes; refuse more than ``max_bytes``."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """The blob's bytes as a stream (the caller closes it); BlobNotFoundError if none."""
        ...

    def exists(self, sha256: str) -> bool: ...


def check_sha256(sha256: str) -> str:
    if not _SHA256.match(sha256):
        raise InvalidRequestError(f"{sha256[:80]!r} is not a SHA-256 in lowercase hex")
    return sha256


class LocalBlobStore:
    """Blobs as files under ``root``: ``sha256/ab/abcd…`` (the first byte's two hex digits
    fan the folder out). A put streams into ``incoming/`` while hashing, is flushed to
    disk, and is renamed into place: the rename is atomic on one file system."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.root / "sha256" / sha256[:2] / sha256

    def put(self, stream: Readable, *, max_bytes: int | None = None) -> StoredBlob:
        incoming = self.root / "incoming"
        try:
            incoming.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=incoming, prefix="put-")
        except OSError as exc:
            raise StorageUnavailableError(
                f"the blob store cannot write in {incoming}: {exc}"
            ) from exc
        temporary = Path(name)
        try:
            digest, size = hashlib.sha256(), 0
            with os.fdopen(handle, "wb") as out:
                while chunk := stream.read(CHUNK_BYTES):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise BlobTooLargeError(f"more than {max_bytes} bytes")
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            blob = StoredBlob(digest.hexdigest(), size)
            final = self._path(blob.sha256)
            if final.exists():  # the same bytes are kept already
                temporary.unlink()
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temporary, final)
            return blob
        except OSError as exc:
            raise StorageUnavailableError(f"the blob store could not keep a blob: {exc}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self._path(sha256).open("rb")
        except FileNotFoundError as exc:
            raise BlobNotFoundError(f"no blob {sha256}") from exc
        except OSError as exc:
            raise StorageUnavailableError(f"the blob store cannot read {sha256}: {exc}") from exc

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()
