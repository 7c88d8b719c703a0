"""Errors of the cloud service: one root, mapped to HTTP answers in ``cloud.api.app``.

    CloudError
    ├── StorageUnavailableError   InfluxDB or the database is down, slow or busy      -> 503 + Retry-After
    ├── StorageError              InfluxDB refused a request as wrong (a bug here)    -> 500
    ├── AuthenticationError       no credentials, or wrong ones                       -> 401
    ├── PermissionDeniedError     known caller, not allowed to do this                -> 403
    ├── NotFoundError             no such thing, or not visible to this caller        -> 404
    ├── ConflictError             the thing exists already                            -> 409
    ├── InvalidRequestError       a value the request or command gives is invalid     -> 422
    └── BatchTooLargeError        a batch over the size limits (the gateway splits it) -> 413

Each domain raises these (or subclasses of them, e.g. ``cloud.web.window.WindowError``).
``core.forwarding.BatchFormatError`` (a batch not in the gateway format) is core's
and maps to 400 at the same boundary.
"""

from __future__ import annotations


class CloudError(Exception):
    """Root of every error the cloud raises on purpose."""


class StorageUnavailableError(CloudError):
    """A store did not answer, or answered that it cannot take the request now."""


class StorageError(CloudError):
    """A store refused a request as malformed: a bug on our side, never retried blindly."""


class AuthenticationError(CloudError):
    """No credentials, or credentials that match nobody."""


class PermissionDeniedError(CloudError):
    """The caller is known but may not do this."""


class NotFoundError(CloudError):
    """No such resource, or one the caller may not see (the two are not told apart)."""


class ConflictError(CloudError):
    """The resource exists already."""


class InvalidRequestError(CloudError):
    """A value given is invalid: a malformed id, a weak password, a wrong kind, a bad window."""


class BatchTooLargeError(CloudError):
    """A forwarded batch is over the size limits: the gateway splits it and retries."""
