"""Errors raised by the edge gateway.

One root for the package::

    EdgeError                 anything the gateway refuses or cannot do
    ├── RegistryError         the device registry file is missing or malformed
    ├── BufferStoreError      the SQLite buffer cannot be opened or written
    └── BrokerError           the local MQTT broker refused or dropped the gateway

Library errors (sqlite3, paho, tomllib) are mapped to these at the boundary, with
``from exc``. Answers of the cloud are not exceptions: they are values
(``edge.answers.Verdict``) the forwarder acts on.
"""

from __future__ import annotations


class EdgeError(Exception):
    """Root of every error the edge gateway raises."""


class RegistryError(EdgeError):
    """The registry of provisioned devices cannot be read or is malformed."""


class BufferStoreError(EdgeError):
    """The local SQLite buffer cannot be opened, read or written."""


class BrokerError(EdgeError):
    """The local MQTT broker refused the gateway or could not be reached."""
