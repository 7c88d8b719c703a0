"""The local blob store: bytes in, their SHA-256 out; the same bytes kept once; a stream
over its limit leaves nothing behind; kinds told by their first bytes."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from cloud.blobs import BlobNotFoundError, BlobTooLargeError, LocalBlobStore
from cloud.blobs.kinds import kind_of
from cloud.errors import InvalidRequestError


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_a_blob_is_named_by_its_sha256_and_kept_once(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    data = bytes(range(256)) * 1000  # several chunks
    blob = store.put(io.BytesIO(data))
    assert (blob.sha256, blob.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert store.exists(blob.sha256)
    with store.open(blob.sha256) as stream:
        assert stream.read() == data
    again = store.put(io.BytesIO(data))
    assert again == blob
    kept = files_under(tmp_path / "blobs")
    assert kept == [tmp_path / "blobs" / "sha256" / blob.sha256[:2] / blob.sha256]


def test_a_stream_over_its_limit_leaves_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(BlobTooLargeError, match="more than 1000 bytes"):
        store.put(io.BytesIO(b"x" * 1001), max_bytes=1000)
    assert files_under(tmp_path / "blobs") == []
    assert store.put(io.BytesIO(b"x" * 1000), max_bytes=1000).size == 1000


def test_unknown_and_malformed_hashes(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    missing = "0" * 64
    assert not store.exists(missing)
    with pytest.raises(BlobNotFoundError):
        store.open(missing)
    with pytest.raises(InvalidRequestError, match="not a SHA-256"):
        store.open("../../etc/passwd")


def test_kinds_by_their_first_bytes() -> None:
    assert kind_of(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00") == "image/jpeg"
    assert kind_of(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR") == "image/png"
    assert kind_of(b"RIFF\x24\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert kind_of(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00") == "image/heic"
    assert kind_of(b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00") == "image/heif"
    assert kind_of(b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00") is None  # an MP4 video
    assert kind_of(b"%PDF-1.7\n") is None
    assert kind_of(b"GIF89a") is None
    assert kind_of(b"") is None
