"""HJ 212-2017 at the edge: water-quality data loggers that speak TCP, not MQTT.

- ``frame``: the packet (``##``, length, data segment, CRC, CRLF) and its data segment;
- ``mapping``: pollutant codes, data flags and command codes onto the wire contract;
- ``listener``: the TCP server that turns accepted packets into water samples on the
  local broker, and keeps refused ones in the gateway's quarantine.

The first two are pure; docs/hj212.md says what each part decides and why.
"""
