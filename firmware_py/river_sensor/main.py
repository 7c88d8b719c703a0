"""River station firmware entry point: copy to the board as ``/main.py``. Only wires parts."""

from firmware_py.device import runtime
from firmware_py.hal import board as hw
from firmware_py.hal.flash import FileFlash
from firmware_py.river_sensor.agent import RiverSensorAgent
from firmware_py.river_sensor.board import RiverBoard

device = runtime.load_device_file()
pins = device["pins"]
wlan = runtime.start_wifi(device["wifi_ssid"], device["wifi_password"])
agent = RiverSensorAgent(
    device["device_id"], FileFlash(), capacity=device.get("buffer_records", 500)
)
board = RiverBoard(
    agent,
    hw.SondeLine(2, pins["rs485_tx"], pins["rs485_rx"], pins["rs485_de"]),
    hw.Millis(),
    hw.Power(pins["battery_adc"], pins["charging"]),
)
runtime.run(agent, board, device, wlan)
