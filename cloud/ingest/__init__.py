"""Ingest: gateways' batches into InfluxDB and the relational store exactly once, the
completeness of every device's record by (boot, seq), and what is held back, with why."""
