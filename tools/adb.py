"""Writing apk-tools 3's ADB format (the .apk of OpenWrt 25.12), from its sources.

apk-tools 3 (alpinelinux/apk-tools, 3.0.x) defines the format in code: src/adb.h and
src/adb.c (values, blocks, the write interface), src/apk_adb.h and src/apk_adb.c (the
schemas and their field numbers), src/adb_comp.c (compression), doc/apk-v3.5. In short:

    value    u32 little-endian: type in the top 4 bits, an immediate or an offset in the
             other 28. SPECIAL 0x0 (NULL 0), INT 0x1 (direct, < 2^28), INT32 0x2 and INT64 0x3
             (indirect, 4-aligned), BLOB8/16/32 0x8/0x9/0xa (indirect: a u8/u16/u32 length
             aligned to its own size, then the bytes), ARRAY 0xd and OBJECT 0xe (indirect,
             4-aligned: u32 count of slots, slot 0 being the count itself, then the values).
             Offsets count from the start of the ADB block's payload.
    adb      the payload of the ADB block: a header {u8 compat_ver 0, u8 ver 0, u16 0,
             u32 root value} at offset 0, then the values; trailing NULL slots of an
             object are dropped.
    file     "ADB." (0x2e424441) and the schema ("pckg" for a package), then blocks, each a
             u32 {type << 30 | 4 + length} and its payload, padded with zeros to 8 bytes:
             the ADB block (type 0), signature blocks (1; none here: installed with
             --allow-untrusted, like any self-built package), then one DATA block (2) per
             non-empty regular file: {u32 path index, u32 file index} and the content.
    .apk     "ADBd" and the file as a raw deflate stream (adb_compress's default, level 9).

Adb below is adb.c's write side: adb_w_data's cache (equal bytes at a fitting alignment
are written once and shared), adb_w_raw's zero padding, adb_w_int's three sizes and
adb_w_blob_vec's three lengths. mkapk.py calls it in the order app_mkpkg.c does, so an
.apk from it is the bytes `apk mkpkg` makes of the same tree.
"""

from __future__ import annotations

import struct
import zlib

# src/adb.h
TYPE_SPECIAL, TYPE_INT, TYPE_INT32, TYPE_INT64 = 0x0, 0x1, 0x2, 0x3
TYPE_BLOB8, TYPE_BLOB16, TYPE_BLOB32 = 0x8, 0x9, 0xA
TYPE_ARRAY, TYPE_OBJECT = 0xD, 0xE
NULL = 0
FORMAT_MAGIC = 0x2E424441  # "ADB."
BLOCK_ADB, BLOCK_SIG, BLOCK_DATA = 0, 1, 2
BLOCK_ALIGNMENT = 8
# src/apk_adb.h
SCHEMA_PACKAGE = 0x676B6370  # "pckg"


def val(type_: int, value: int) -> int:
    """ADB_VAL(type, value)."""
    assert 0 <= value <= 0x0FFFFFFF
    return type_ << 28 | value


class Adb:
    """The ADB block being written: the header at 0, then values, shared where adb.c shares them."""

    def __init__(self) -> None:
        self.buf = bytearray(8)  # struct adb_hdr, root set by set_root()
        self._cache: dict[bytes, int] = {}

    def _raw(self, data: bytes, alignment: int) -> int:
        self.buf += bytes(-len(self.buf) % alignment)
        offset = len(self.buf)
        self.buf += data
        return offset

    def _data(self, data: bytes, alignment: int, cache: bool = True) -> int:
        """adb_w_data: the offset of `data`, written unless equal bytes sit at a fitting offset."""
        if not cache:
            return self._raw(data, alignment)
        offset = self._cache.get(data)
        if offset is None or offset % alignment:
            offset = self._cache[data] = self._raw(data, alignment)
        return offset

    def int(self, n: int) -> int:
        if n >= 1 << 32:
            return val(TYPE_INT64, self._data(struct.pack("<Q", n), 4))
        if n >= 0x10000000:
            return val(TYPE_INT32, self._data(struct.pack("<I", n), 4))
        return val(TYPE_INT, n)

    def blob(self, b: bytes, cache: bool = True) -> int:
        if not b:
            return NULL
        if len(b) > 0xFFFF:
            return val(TYPE_BLOB32, self._data(struct.pack("<I", len(b)) + b, 4, cache))
        if len(b) > 0xFF:
            return val(TYPE_BLOB16, self._data(struct.pack("<H", len(b)) + b, 2, cache))
        return val(TYPE_BLOB8, self._data(bytes([len(b)]) + b, 1, cache))

    def _slots(self, values: list[int], type_: int) -> int:
        """__adb_w_obj: the slots with trailing NULLs dropped, slot 0 the count; NULL if none."""
        while values and values[-1] == NULL:
            values.pop()
        if not values:
            return NULL
        return val(type_, self._data(struct.pack(f"<{len(values) + 1}I", len(values) + 1, *values), 4))

    def object(self, fields: dict[int, int], type_: int = TYPE_OBJECT) -> int:
        """An object: {field number: value}."""
        last = max((i for i, v in fields.items() if v != NULL), default=0)
        return self._slots([fields.get(i, NULL) for i in range(1, last + 1)], type_)

    def array(self, items: list[int], type_: int = TYPE_ARRAY) -> int:
        """An array of the items in this order, NULLs left out (adb_wa_append). apk writes the
        arrays of a package through adb_wo_obj, which tags them OBJECT: pass type_ for that."""
        return self._slots([v for v in items if v != NULL], type_)

    def set_root(self, root: int) -> None:
        struct.pack_into("<I", self.buf, 4, root)

    def patch(self, value: int, data: bytes) -> None:
        """Overwrite a blob's bytes in place (mkpkg fills in the package's unique id so)."""
        offset = value & 0x0FFFFFFF
        length = self.buf[offset]
        assert value >> 28 == TYPE_BLOB8 and length == len(data)
        self.buf[offset + 1:offset + 1 + length] = data


def block(type_: int, payload: bytes) -> bytes:
    """adb_c_block: the header, the payload, zeros to the next 8 bytes."""
    raw = 4 + len(payload)
    assert raw <= 0x3FFFFFFF
    return struct.pack("<I", type_ << 30 | raw) + payload + bytes(-raw % BLOCK_ALIGNMENT)


def data_block(path_index: int, file_index: int, content: bytes) -> bytes:
    """adb_c_block_data with struct adb_data_package {u32 path_idx, u32 file_idx}."""
    return block(BLOCK_DATA, struct.pack("<II", path_index, file_index) + content)


def file_bytes(schema: int, adb: bytes, data_blocks: list[bytes]) -> bytes:
    """adb_c_adb (header and the ADB block, no signature) and the data blocks."""
    return struct.pack("<II", FORMAT_MAGIC, schema) + block(BLOCK_ADB, adb) + b"".join(data_blocks)


def compress(raw: bytes) -> bytes:
    """adb_compress with the default spec: "ADBd", then raw deflate at level 9."""
    z = zlib.compressobj(9, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY)
    return b"ADBd" + z.compress(raw) + z.flush()
