"""Flash storage on the board's filesystem (LittleFS on an ESP32, which levels wear itself)."""

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass


class FileFlash:
    """Named blobs in files under ``root``, read and written at offsets."""

    def __init__(self, root: str = "/data") -> None:
        self.root = root
        try:
            import os

            os.mkdir(root)
        except OSError:
            pass  # already there

    def _path(self, name: str) -> str:
        return self.root + "/" + name

    def read(self, name: str, offset: int, size: int) -> bytes:
        try:
            with open(self._path(name), "rb") as f:
                f.seek(offset)
                data: bytes = f.read(size)  # the port's stubs leave read() untyped
                return data
        except OSError:
            return b""

    def write(self, name: str, offset: int, data: "Any") -> None:
        path = self._path(name)
        try:
            f = open(path, "r+b")
        except OSError:
            f = open(path, "w+b")
        try:
            f.seek(0, 2)
            end = f.tell()
            if end < offset:
                f.write(b"\xff" * (offset - end))
            f.seek(offset)
            f.write(data)
        finally:
            f.close()
