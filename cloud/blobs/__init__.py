"""Content-addressed blobs: photos now, documents later; below every domain, beside the
relational store and the time series.

A blob is named by the SHA-256 of its bytes and never changes: storing the same bytes
twice keeps one copy. ``BlobStore`` is the seam (``put``, ``open``, ``exists``);
``LocalBlobStore`` keeps blobs in a folder. What a blob is for, who may read it and what
kind of content a domain accepts are the domains' business (``kinds`` tells a few kinds
apart by their first bytes).
"""

from cloud.blobs.store import (
    BlobNotFoundError,
    BlobStore,
    BlobTooLargeError,
    LocalBlobStore,
    StoredBlob,
)

__all__ = ["BlobNotFoundError", "BlobStore", "BlobTooLargeError", "LocalBlobStore", "StoredBlob"]
