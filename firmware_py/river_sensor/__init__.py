"""The river water-quality station: a multi-parameter sonde read over Modbus RTU."""
