"""Config goes down through the gateway that serves the device, until acknowledged."""

from __future__ import annotations

import base64

import pytest
from cloud_support import Cloud

from core.codec import decode
from core.messages import Config

pytestmark = pytest.mark.services


def test_config_is_offered_to_its_gateway_until_acknowledged(cloud: Cloud) -> None:
    admin = cloud.login("prosecutor")
    issued = cloud.client.put(
        "/api/v1/devices/br-000001/config", json={"settings": {"fix_interval_s": 30}}, headers=admin
    )
    assert issued.status_code == 200, issued.text
    assert issued.json()["version"] == 1
    bad = cloud.client.put(
        "/api/v1/devices/br-000001/config", json={"settings": {"fix_interval_s": 1}}, headers=admin
    )
    assert bad.status_code == 422
    gw_one = {"Authorization": f"Bearer {cloud.gateway_tokens['gw-one']}"}
    gw_two = {"Authorization": f"Bearer {cloud.gateway_tokens['gw-two']}"}

    offered = cloud.client.get("/api/v1/gateways/downlink", params={"wait_s": 0}, headers=gw_one)
    assert offered.status_code == 200
    [message] = offered.json()["messages"]
    assert (message["device_id"], message["channel"]) == ("br-000001", "config")
    config = decode(base64.b64decode(message["payload_b64"]), "config")
    assert isinstance(config, Config)
    assert (config.version, config.setting("fix_interval_s")) == (1, 30)

    other = cloud.client.get("/api/v1/gateways/downlink", params={"wait_s": 0}, headers=gw_two)
    assert other.json() == {"messages": []}
    not_theirs = cloud.client.post(
        "/api/v1/gateways/downlink/ack", json={"ids": [message["id"]]}, headers=gw_two
    )
    assert not_theirs.json() == {"acknowledged": 0}

    acked = cloud.client.post(
        "/api/v1/gateways/downlink/ack", json={"ids": [message["id"], "x"]}, headers=gw_one
    )
    assert acked.json() == {"acknowledged": 1}
    again = cloud.client.get("/api/v1/gateways/downlink", params={"wait_s": 0}, headers=gw_one)
    assert again.json() == {"messages": []}
    lawyer = cloud.client.put(
        "/api/v1/devices/br-000001/config",
        json={"settings": {"fix_interval_s": 30}},
        headers=cloud.login("lawyer"),
    )
    assert lawyer.status_code == 403
