"""Boot counter, flash record buffer, batches and uplink (MicroPython and CPython)."""

from mptest import assert_equal, assert_raises, repo_path

from core import codec
from core import contract as c
from core.messages import Batch, Event, LocationFix
from firmware_py.agent.batch import encode_batch
from firmware_py.agent.persist import PersistentCounter, next_boot_id
from firmware_py.agent.store import RecordBuffer
from firmware_py.agent.uplink import Uplink
from firmware_py.host.twins import MemoryFlash

TS = 1795932000


def fix(seq, boot=1):
    return codec.encode(LocationFix(boot, seq, TS + seq, 312304567, 1214737000, 5, c.FIX_GNSS))


def event(seq, boot=1):
    return codec.encode(Event(boot, seq, TS + seq, c.EV_SOS))


def put_fix(buffer, seq, boot=1):
    return buffer.put(boot, seq, c.LOCATION_FIX, fix(seq, boot))


def put_event(buffer, seq, boot=1):
    return buffer.put(boot, seq, c.EVENT, event(seq, boot))


# --- boot id -------------------------------------------------------------------


def test_boot_ids_start_at_one_and_grow_by_one_write_each():
    flash = MemoryFlash()
    assert_equal([next_boot_id(flash) for _ in range(20)], list(range(1, 21)))
    assert_equal(flash.writes, 20)
    # Eight rotating slots: each place was written 20 / 8 rounded up times.
    assert_equal(flash.max_writes_at_one_place("boot.bin"), 3)


def test_a_torn_counter_write_does_not_take_the_counter_back():
    flash = MemoryFlash()
    for _ in range(5):
        next_boot_id(flash)
    # A power cut while writing boot 6 leaves garbage in its slot.
    flash.write("boot.bin", 6 * 8, b"\x00\x00\x00\x06\xde\xad")
    assert_equal(next_boot_id(flash), 6)


def test_counter_refuses_to_go_back():
    counter = PersistentCounter(MemoryFlash(), "n")
    counter.store(5)
    assert_raises(ValueError, counter.store, 4)


# --- record buffer ---------------------------------------------------------------


def test_buffer_keeps_records_oldest_first_across_a_restart():
    flash = MemoryFlash()
    buffer = RecordBuffer(flash, 10, 128, 2)
    for seq in (0, 1, 2):
        put_fix(buffer, seq)
    put_event(buffer, 3)
    again = RecordBuffer(flash, 10, 128, 2)
    assert_equal(again.load(), 4)
    assert_equal(again.keys(), [(1, 0), (1, 1), (1, 2), (1, 3)])
    taken = again.take(10, 10000)
    assert_equal([pair[1] for pair in taken], [fix(0), fix(1), fix(2), event(3)])


def test_full_buffer_drops_the_oldest_telemetry_never_events():
    flash = MemoryFlash()
    buffer = RecordBuffer(flash, 6, 128, 2)  # telemetry may fill 4 slots
    put_event(buffer, 0)
    for seq in range(1, 5):
        assert_equal(put_fix(buffer, seq), 0)
    assert_equal(put_fix(buffer, 5), 1)  # drops fix 1, the oldest telemetry
    assert_equal(put_event(buffer, 6), 0)  # the reserve takes it
    assert_equal(put_event(buffer, 7), 1)  # full: fix 2 goes, not event 0
    assert_equal(buffer.keys(), [(1, 0), (1, 3), (1, 4), (1, 5), (1, 6), (1, 7)])
    assert_equal(buffer.dropped, 2)
    # The count survives a restart.
    again = RecordBuffer(flash, 6, 128, 2)
    again.load()
    assert_equal(again.dropped, 2)


def test_incoming_telemetry_older_than_all_buffered_is_the_one_dropped():
    buffer = RecordBuffer(MemoryFlash(), 3, 128, 1)
    put_fix(buffer, 5)
    put_fix(buffer, 6)
    assert_equal(put_fix(buffer, 4), 1)
    assert_equal(buffer.keys(), [(1, 5), (1, 6)])


def test_a_buffer_of_events_only_drops_its_oldest_event():
    buffer = RecordBuffer(MemoryFlash(), 3, 128, 1)
    for seq in range(4):
        put_event(buffer, seq)
    assert_equal(buffer.keys(), [(1, 1), (1, 2), (1, 3)])
    assert_equal(buffer.dropped, 1)


def test_a_damaged_slot_is_counted_and_skipped():
    flash = MemoryFlash()
    buffer = RecordBuffer(flash, 4, 128, 1)
    put_fix(buffer, 0)
    put_fix(buffer, 1)
    flash.write("buffer.bin", 13 + 5, b"\x00")  # corrupt the payload of slot 0
    taken = buffer.take(10, 10000)
    assert_equal([pair[0][1] for pair in taken], [1])
    assert_equal(buffer.dropped, 1)


def test_slots_wear_evenly():
    flash = MemoryFlash()
    buffer = RecordBuffer(flash, 8, 128, 1)
    for seq in range(80):
        put_fix(buffer, seq)
        buffer.remove([pair[0] for pair in buffer.take(1, 1000)])
    # 80 records through 8 slots: each slot written 10 times to store and 10 to free.
    assert_equal(flash.max_writes_at_one_place("buffer.bin"), 20)
    assert_equal(len(buffer), 0)


def test_take_respects_count_and_bytes_and_release_gives_back():
    buffer = RecordBuffer(MemoryFlash(), 10, 128, 1)
    for seq in range(5):
        put_fix(buffer, seq)
    first = buffer.take(2, 10000)
    assert_equal([p[0][1] for p in first], [0, 1])
    second = buffer.take(10, 2 * len(fix(0)))
    assert_equal([p[0][1] for p in second], [2, 3])
    buffer.release()
    assert_equal(len(buffer.take(10, 10000)), 5)


# --- batches -----------------------------------------------------------------------


def test_batch_bytes_are_what_core_encodes():
    items = [fix(0), event(1), fix(2)]
    data = encode_batch(1, TS + 10, items)
    decoded = [codec.decode(item) for item in items]
    assert_equal(data, codec.encode(Batch(1, decoded, TS + 10)))
    assert_equal(codec.decode(data, "batch").items, decoded)


def test_batch_with_256_items_uses_a_two_byte_array_head():
    items = [fix(i) for i in range(256)]
    data = encode_batch(1, None, items)
    assert_equal(data, codec.encode(Batch(1, [codec.decode(i) for i in items])))


# --- uplink -------------------------------------------------------------------------


def test_uplink_sends_live_buffers_offline_and_catches_up_in_batches():
    buffer = RecordBuffer(MemoryFlash(), 100, 128, 5)
    up = Uplink("br-000001", buffer, window=2)
    up.batch_max_records = 3
    up.on_connected()
    up.submit(1, 0, c.LOCATION_FIX, fix(0))
    up.submit(1, 1, c.EVENT, event(1))
    up.submit(1, 2, c.LOCATION_FIX, fix(2))  # window full: into the buffer
    out = up.take_outgoing()
    assert_equal(
        [o.topic for o in out], ["fw/v1/br-000001/up/telemetry", "fw/v1/br-000001/up/event"]
    )
    assert_equal(len(buffer), 1)
    up.acked(out[0].token)
    up.on_lost()  # event 1 was not acknowledged: back to the buffer
    assert_equal(buffer.keys(), [(1, 1), (1, 2)])
    for seq in range(3, 7):
        up.submit(1, seq, c.LOCATION_FIX, fix(seq))
    up.on_connected()
    up.poll(TS)
    up.poll(TS)  # one batch in flight at a time
    batches = up.take_outgoing()
    assert_equal(len(batches), 1)
    batch = codec.decode(batches[0].payload, "batch")
    assert_equal([item.seq for item in batch.items], [1, 2, 3])
    up.acked(batches[0].token)
    up.poll(TS)
    batch = codec.decode(up.take_outgoing()[0].payload, "batch")
    assert_equal([item.seq for item in batch.items], [4, 5, 6])
    assert_equal(up.sent_live, 1)
    assert_equal(up.sent_batched, 3)


def test_uplink_lost_batch_is_sent_again():
    buffer = RecordBuffer(MemoryFlash(), 100, 128, 5)
    up = Uplink("br-000001", buffer)
    for seq in range(3):
        up.submit(1, seq, c.LOCATION_FIX, fix(seq))
    up.on_connected()
    up.poll(TS)
    token = up.take_outgoing()[0].token
    up.on_lost()
    up.acked(token)  # a stale acknowledgement frees nothing
    assert_equal(len(buffer), 3)
    up.on_connected()
    up.poll(TS)
    out = up.take_outgoing()
    assert_equal(len(codec.decode(out[0].payload, "batch").items), 3)
    up.acked(out[0].token)
    assert up.idle


# --- the board's flash: files -------------------------------------------------------


def _remove_tree(root):
    import os

    try:
        for name in os.listdir(root):
            os.remove(root + "/" + name)
        os.rmdir(root)
    except OSError:
        pass


def test_file_flash_keeps_the_boot_counter_and_the_buffer():
    from firmware_py.hal.flash import FileFlash

    root = "/tmp/fieldwatch-mp-flash"
    _remove_tree(root)
    try:
        flash = FileFlash(root)
        assert_equal([next_boot_id(flash) for _ in range(3)], [1, 2, 3])
        buffer = RecordBuffer(flash, 5, 128, 1)
        put_fix(buffer, 0)
        put_event(buffer, 1)
        again = RecordBuffer(FileFlash(root), 5, 128, 1)
        assert_equal(again.load(), 2)
        assert_equal([p[1] for p in again.take(5, 1000)], [fix(0), event(1)])
        assert_equal(next_boot_id(FileFlash(root)), 4)
    finally:
        _remove_tree(root)


def test_the_manifest_freezes_every_device_module():
    # Every firmware_py module but the host twins/transport and the copied main.py files.
    import os

    listed = []

    def package(name, files=None, base_path="."):
        if name == "firmware_py":
            listed.extend(files)

    def ignore(*args, **kwargs):
        pass

    with open(repo_path("firmware_py/manifest.py")) as f:
        exec(f.read(), {"package": package, "include": ignore, "require": ignore, "module": ignore})
    found = []
    for folder in ("", "agent/", "bracelet/", "river_sensor/", "hal/", "device/"):
        for name in os.listdir(repo_path("firmware_py/" + folder)):
            if name.endswith(".py") and name not in ("main.py", "manifest.py"):
                found.append(folder + name)
    assert_equal(sorted(listed), sorted(found))
