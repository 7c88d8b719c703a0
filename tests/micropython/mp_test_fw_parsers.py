"""NMEA and Modbus RTU parsing against byte-exact sentences and frames (MicroPython and CPython).

CRCs are checked against a bitwise CRC-16/MODBUS written here from the
definition (poly 0xA001 reflected, init 0xFFFF), independent of the
firmware's table, and against frames whose CRC is published.
"""

from mptest import assert_equal, assert_raises

from firmware_py import modbus, nmea
from firmware_py.agent.crc import crc16
from firmware_py.host.twins import SondeTwin, gnss_sentences
from firmware_py.modbus import ModbusError, Transaction
from firmware_py.nmea import FixAssembler, NmeaError


def reference_crc(data):
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            if crc & 1:
                crc = (crc >> 1) ^ 0xA001
            else:
                crc >>= 1
    return crc


def frame(hex_text):
    return bytes(int(part, 16) for part in hex_text.split())


# --- CRC and request frames ---------------------------------------------------


def test_crc_of_the_published_example_request():
    # "01 03 00 00 00 0A C5 CD": read 10 holding registers of unit 1, the usual example.
    request = frame("01 03 00 00 00 0A C5 CD")
    assert_equal(crc16(request[:6]), 0xCDC5)
    assert_equal(reference_crc(request[:6]), 0xCDC5)
    assert_equal(modbus.read_holding_request(1, 0, 10), request)


def test_crc_check_value_of_the_catalogue():
    # CRC-16/MODBUS check value: CRC of ASCII "123456789" is 0x4B37.
    assert_equal(crc16(b"123456789"), 0x4B37)
    assert_equal(reference_crc(b"123456789"), 0x4B37)


def test_table_crc_matches_the_bitwise_reference():
    for body in (b"", b"\x00", b"\xff\xff", bytes(range(64)), b"\x11\x03\x00\x6b\x00\x03"):
        assert_equal(crc16(body), reference_crc(body))


def test_request_frame_bytes():
    # Unit 0x11, 3 registers from 0x006B: the Modbus specification's own example.
    body = frame("11 03 00 6B 00 03")
    crc = reference_crc(body)
    expected = body + bytes((crc & 0xFF, crc >> 8))
    assert_equal(modbus.read_holding_request(0x11, 0x6B, 3), expected)
    assert_equal(expected, frame("11 03 00 6B 00 03 76 87"))


def test_response_is_parsed_to_registers():
    body = frame("11 03 06 AE 41 56 52 43 40")
    crc = reference_crc(body)
    response = body + bytes((crc & 0xFF, crc >> 8))
    assert_equal(response, frame("11 03 06 AE 41 56 52 43 40 49 AD"))
    assert_equal(modbus.parse_read_holding_response(response, 0x11, 3), [0xAE41, 0x5652, 0x4340])


def test_bad_crc_is_refused():
    response = frame("11 03 06 AE 41 56 52 43 40 49 AE")
    exc = assert_raises(ModbusError, modbus.parse_read_holding_response, response, 0x11, 3)
    assert_equal(exc.code, "crc")


def test_exception_response_names_the_exception():
    body = frame("11 83 02")
    crc = reference_crc(body)
    response = body + bytes((crc & 0xFF, crc >> 8))
    exc = assert_raises(ModbusError, modbus.parse_read_holding_response, response, 0x11, 3)
    assert_equal(exc.code, "exception")
    assert "illegal data address" in exc.detail


def test_answer_from_another_unit_or_of_wrong_length_is_a_mismatch():
    body = frame("12 03 02 00 01")
    crc = reference_crc(body)
    response = body + bytes((crc & 0xFF, crc >> 8))
    assert_equal(
        assert_raises(ModbusError, modbus.parse_read_holding_response, response, 0x11, 1).code,
        "mismatch",
    )
    assert_equal(
        assert_raises(ModbusError, modbus.parse_read_holding_response, response, 0x12, 2).code,
        "mismatch",
    )


# --- the transaction: timeouts and retries -------------------------------------


def test_transaction_answered_at_once():
    sonde = SondeTwin(unit=1)
    sonde.registers[0:3] = [1, 2, 3]
    tx = Transaction(1, 0, 3, timeout_ms=500, retries=2)
    sonde.write(tx.start(0))
    tx.feed(sonde.read(), 20)
    assert_equal(tx.registers, [1, 2, 3])
    assert_equal(tx.attempts, 1)


def test_transaction_takes_an_answer_in_pieces():
    sonde = SondeTwin(unit=1)
    tx = Transaction(1, 0, 2)
    sonde.write(tx.start(0))
    answer = sonde.read()
    tx.feed(answer[:3], 5)
    assert not tx.done
    tx.feed(answer[3:], 6)
    assert_equal(tx.registers, [0, 0])


def test_transaction_retries_after_timeout_then_gives_up():
    tx = Transaction(1, 0, 3, timeout_ms=500, retries=2)
    request = tx.start(1000)
    assert_equal(tx.poll(1499), None)
    assert_equal(tx.poll(1500), request)
    assert_equal(tx.poll(2000), request)
    assert_equal(tx.attempts, 3)
    assert_equal(tx.poll(2500), None)
    assert tx.done
    assert_equal(tx.error.code, "timeout")
    assert_equal(tx.registers, None)


def test_transaction_resends_after_a_damaged_answer():
    sonde = SondeTwin(unit=1)
    sonde.registers[0] = 7
    sonde.garble = 1
    tx = Transaction(1, 0, 1, timeout_ms=500, retries=2)
    sonde.write(tx.start(0))
    tx.feed(sonde.read(), 10)
    assert not tx.done
    again = tx.poll(10)
    assert_equal(again, tx.request)
    sonde.write(again)
    tx.feed(sonde.read(), 20)
    assert_equal(tx.registers, [7])
    assert_equal(tx.attempts, 2)


def test_transaction_does_not_retry_an_exception_answer():
    sonde = SondeTwin(unit=1, size=4)
    tx = Transaction(1, 2, 5)
    sonde.write(tx.start(0))
    tx.feed(sonde.read(), 1)
    assert_equal(tx.error.code, "exception")
    assert_equal(tx.attempts, 1)


# --- NMEA ---------------------------------------------------------------------

GGA = "$GPGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,*76"
RMC = "$GPRMC,092750.000,A,5321.6802,N,00630.3372,W,0.02,31.66,280511,,,A*43"


def test_checksum_of_published_sentences():
    assert_equal(nmea.checksum(GGA[1 : GGA.index("*")]), 0x76)
    assert_equal(nmea.checksum(RMC[1 : RMC.index("*")]), 0x43)


def test_gga_parses_exactly():
    fix = nmea.parse(GGA)
    assert_equal(fix.time_s, 9 * 3600 + 27 * 60 + 50)
    # 53 deg 21.6802 min = 53.361336666 deg; 6 deg 30.3372 min W = -6.50562 deg
    assert_equal(fix.lat_e7, 533613367)
    assert_equal(fix.lon_e7, -65056200)
    assert_equal(fix.quality, 1)
    assert_equal(fix.satellites, 8)
    assert_equal(fix.hdop_e1, 10)
    assert_equal(fix.accuracy_m, 5)


def test_rmc_parses_exactly():
    fix = nmea.parse(RMC)
    # 2011-05-28 09:27:50 UTC
    assert_equal(fix.ts, 1306574870)
    assert fix.valid
    assert_equal(fix.lat_e7, 533613367)
    assert_equal(fix.speed_cm_s, 1)  # 0.02 kn


def test_bytes_with_line_end_parse_too():
    assert_equal(nmea.parse((GGA + "\r\n").encode()).lat_e7, 533613367)


def test_damaged_sentences_are_refused():
    assert_raises(NmeaError, nmea.parse, GGA[:-1] + "7")
    assert_raises(NmeaError, nmea.parse, GGA.replace("5321", "5331"))
    assert_raises(NmeaError, nmea.parse, GGA[:-3])
    assert_raises(NmeaError, nmea.parse, GGA[1:])


def test_other_sentences_are_ignored():
    gsv = "$GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00*74"
    assert_equal(nmea.parse(gsv), None)


def test_no_fix_sentences():
    assembler = FixAssembler()
    for line in gnss_sentences(1795932000, 0, 0, 0, 9, sky=False):
        assert_equal(assembler.feed(line), None)
    assert_equal(assembler.errors, 0)


def test_assembler_joins_gga_and_rmc_of_the_same_second():
    assembler = FixAssembler()
    assert_equal(assembler.feed(GGA), None)
    fix = assembler.feed(RMC)
    assert_equal(
        (fix.ts, fix.lat_e7, fix.lon_e7, fix.accuracy_m, fix.speed_cm_s),
        (1306574870, 533613367, -65056200, 5, 1),
    )


def test_twin_sentences_round_trip_through_the_parser_in_shanghai():
    ts = 1795932000
    lines = gnss_sentences(ts, 312304567, 1214737000, 140, 12)
    assert_equal(lines[0], "$GNGGA,060000.00,3113.82740,N,12128.42200,E,1,09,1.2,4.0,M,8.5,M,,*42")
    assembler = FixAssembler()
    assembler.feed(lines[0])
    fix = assembler.feed(lines[1])
    assert_equal((fix.ts, fix.lat_e7, fix.lon_e7, fix.accuracy_m), (ts, 312304567, 1214737000, 6))
    assert abs(fix.speed_cm_s - 140) <= 1
