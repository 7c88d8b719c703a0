"""The bracelet's and the station's hardware through ``machine`` (MicroPython boards only).

Pin numbers come from the device file (``device.json``), so one firmware fits
board revisions. Edges of the strap loop and the button are latched by
interrupts, so an event is caught even while the main loop waits on the
network; the loop reads the latched state at its next step.
"""

import gc
import time

import machine

try:
    from typing import Any

    import network
    from _mpy_shed.time_mp import _TicksMs  # the stubs' opaque ticks_ms() value
except ImportError:  # MicroPython: annotations are never evaluated there
    pass


class Gnss:
    """A GNSS receiver on a UART printing NMEA at 9600 baud; ``lines()`` never blocks."""

    def __init__(self, uart_id: int, tx: int, rx: int) -> None:
        self.uart = machine.UART(uart_id, baudrate=9600, tx=tx, rx=rx, rxbuf=1024)
        self._partial = b""

    def lines(self) -> "list[Any]":
        data = self.uart.read()
        if not data:
            return []
        data = self._partial + data
        parts = data.split(b"\n")
        self._partial = parts.pop()[-200:]  # keep an unfinished sentence, bounded
        return parts


class Strap:
    """The strap loop: the pin reads 0 while the loop is whole (pulled up, shorted by the strap)."""

    def __init__(self, pin: int) -> None:
        self.pin = machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP)
        self._opened = False
        self.pin.irq(self._edge, machine.Pin.IRQ_RISING)

    def _edge(self, pin: "Any") -> None:
        self._opened = True  # latched: a cut that closes again is still seen

    def closed(self) -> bool:
        if self._opened:
            self._opened = False
            return False
        return self.pin.value() == 0


class Button:
    """A button to ground; (pressed, held ms)."""

    def __init__(self, pin: int) -> None:
        self.pin = machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP)
        self._down_at: "_TicksMs | None" = None
        self.pin.irq(self._edge, machine.Pin.IRQ_FALLING)

    def _edge(self, pin: "Any") -> None:
        if self._down_at is None:
            self._down_at = time.ticks_ms()

    def state(self) -> "tuple[bool, int]":
        if self.pin.value() == 0 or self._down_at is not None:
            if self._down_at is None:
                self._down_at = time.ticks_ms()
            held = time.ticks_diff(time.ticks_ms(), self._down_at)
            if self.pin.value() != 0:
                self._down_at = None  # released since: report the press once
            return True, held
        return False, 0


class Battery:
    """A Li-ion cell through a 1:2 divider on an ADC pin; a charger status pin."""

    def __init__(self, adc_pin: int, charging_pin: int) -> None:
        self.adc = machine.ADC(machine.Pin(adc_pin))
        self.adc.atten(machine.ADC.ATTN_11DB)
        self.charging_pin = machine.Pin(charging_pin, machine.Pin.IN, machine.Pin.PULL_UP)

    def read(self) -> "tuple[int, int, bool]":
        mv = 2 * self.adc.read_uv() // 1000
        pct = max(0, min(100, (mv - 3300) * 100 // 900))
        return pct, mv, self.charging_pin.value() == 0


class Vibration:
    """The vibration motor on a pin (blocking pulse: at most a second and a half)."""

    def __init__(self, pin: int) -> None:
        self.pin = machine.Pin(pin, machine.Pin.OUT, value=0)

    def pulse(self, ms: int) -> None:
        self.pin.value(1)
        time.sleep_ms(ms)
        self.pin.value(0)


class Modem:
    """Radio signal and free memory; no coarse position on a Wi-Fi-only board."""

    def __init__(self, wlan: "network.WLAN") -> None:
        self.wlan = wlan

    def signal_dbm(self) -> "int | None":
        try:
            return self.wlan.status("rssi")
        except (OSError, ValueError):
            return None

    def free_memory(self) -> int:
        gc.collect()
        return gc.mem_free()

    def coarse_position(self) -> "Any":
        return None


class SondeLine:
    """RS-485 to the sonde: a UART at 9600 8N1 and a driver-enable pin held high while sending."""

    def __init__(self, uart_id: int, tx: int, rx: int, de: int) -> None:
        self.uart = machine.UART(uart_id, baudrate=9600, tx=tx, rx=rx)
        self.de = machine.Pin(de, machine.Pin.OUT, value=0)

    def write(self, frame: bytes) -> None:
        self.de.value(1)
        self.uart.write(frame)
        self.uart.flush()  # wait until the last bit left before releasing the bus
        self.de.value(0)

    def read(self) -> bytes:
        return self.uart.read() or b""


class Millis:
    """Monotonic milliseconds from ``ticks_ms`` (which wraps) for the Modbus transaction."""

    def __init__(self) -> None:
        self._last = time.ticks_ms()
        self._now = 0

    def ms(self) -> int:
        tick = time.ticks_ms()
        self._now += time.ticks_diff(tick, self._last)
        self._last = tick
        return self._now

    def sleep_ms(self, ms: int) -> None:
        time.sleep_ms(ms)


class Power:
    """A station's battery, read like the bracelet's."""

    def __init__(self, adc_pin: int, charging_pin: int) -> None:
        self._battery = Battery(adc_pin, charging_pin)

    def read(self) -> "tuple[int, int, bool]":
        return self._battery.read()
