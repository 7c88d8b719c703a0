"""Fixtures of the gateway tests: a broker with users and ACL, a cloud stub, devices."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from edge_cloud_stub import CloudStub
from edge_support import GATEWAY_ID, Fleet, broker_acl, broker_users
from fixtures.services import MosquittoFactory

from fieldwatch_dev.local import MosquittoServer


@pytest.fixture
def broker(mosquitto_factory: MosquittoFactory) -> MosquittoServer:
    """A private broker with the gateway's and the devices' users and the project's ACL."""
    return mosquitto_factory(users=broker_users(), acl=broker_acl())


@pytest.fixture
def cloud() -> Iterator[CloudStub]:
    stub = CloudStub(GATEWAY_ID)
    stub.start()
    yield stub
    stub.stop()


@pytest.fixture
def fleet(broker: MosquittoServer) -> Iterator[Fleet]:
    devices = Fleet(broker)
    yield devices
    devices.close()
