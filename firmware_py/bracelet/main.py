"""Bracelet firmware entry point: copy to the board as ``/main.py``. Only wires parts."""

from firmware_py.bracelet.agent import BraceletAgent
from firmware_py.bracelet.board import BraceletBoard
from firmware_py.device import runtime
from firmware_py.hal import board as hw
from firmware_py.hal.flash import FileFlash

device = runtime.load_device_file()
pins = device["pins"]
wlan = runtime.start_wifi(device["wifi_ssid"], device["wifi_password"])
agent = BraceletAgent(device["device_id"], FileFlash(), capacity=device.get("buffer_records", 500))
board = BraceletBoard(
    agent,
    hw.Gnss(1, pins["gnss_tx"], pins["gnss_rx"]),
    hw.Strap(pins["strap"]),
    hw.Button(pins["button"]),
    hw.Battery(pins["battery_adc"], pins["charging"]),
    hw.Vibration(pins["vibration"]),
    hw.Modem(wlan),
)
runtime.run(agent, board, device, wlan)
