"""Fleet: edge gateways and the devices they serve, their latest state and presence, and
the config and commands waiting for them (downlink)."""
