"""A reader of apk-tools 3's ADB packages, for the tests: written from apk-tools' sources, not
from tools/adb.py, and stricter than apk itself where the sources say how a value must look.

What it follows (apk-tools 3.0.6):
- src/adb_comp.c adb_decompress: "ADB." is an uncompressed file, "ADBd" a raw deflate stream
  of one, "ADBc" + {u8 alg, u8 level} a stream of another algorithm;
- src/adb.h: struct adb_file_header {u32 magic "ADB.", u32 schema}; blocks of
  u32 type_size (type in the top 2 bits, 4 + payload length below; type 3 for the 16-byte
  extended header), each padded to ADB_BLOCK_ALIGNMENT 8; struct adb_hdr
  {u8 adb_compat_ver, u8 adb_ver, u16 reserved, u32 root} at the start of the ADB block;
- src/adb.c __adb_m_parse: one ADB block first, then SIG blocks, then DATA blocks only;
  adb_r_int, adb_r_blob, adb_r_obj: the value types and where they point;
- src/adb.c adb_w_int/adb_w_blob_vec/adb_w_data1: the alignment each indirect value is
  written with (INT32/INT64/ARRAY/OBJECT 4, BLOB16 2, BLOB32 4), and that a value is written
  in its smallest form (an INT below 2^28, a BLOB8 up to 255 bytes, ...);
- src/extract_v3.c apk_extract_v3_data_block: a DATA block per non-empty regular file, in
  path and file order, {u32 path_idx, u32 file_idx} then exactly the file's size bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
import zlib

MAGIC = b"ADB."
SCHEMA_PACKAGE = b"pckg"
BLOCK_ADB, BLOCK_SIG, BLOCK_DATA, BLOCK_EXT = 0, 1, 2, 3

# src/apk_adb.h / apk_adb.c: field numbers and names of the package schema
PACKAGE_FIELDS = {1: "info", 2: "paths", 3: "scripts", 4: "triggers", 5: "replaces-priority"}
PKGINFO_FIELDS = {1: "name", 2: "version", 3: "hashes", 4: "description", 5: "arch", 6: "license", 7: "origin",
                  8: "maintainer", 9: "url", 10: "repo-commit", 11: "build-time", 12: "installed-size",
                  13: "file-size", 14: "provider-priority", 15: "depends", 16: "provides", 17: "replaces",
                  18: "install-if", 19: "recommends", 20: "layer", 21: "tags"}
DEPENDENCY_FIELDS = {1: "name", 2: "version", 3: "match"}
DIR_FIELDS = {1: "name", 2: "acl", 3: "files"}
FILE_FIELDS = {1: "name", 2: "acl", 3: "size", 4: "mtime", 5: "hash", 6: "target"}
ACL_FIELDS = {1: "mode", 2: "user", 3: "group", 4: "xattrs"}
SCRIPT_FIELDS = {1: "trigger", 2: "pre-install", 3: "post-install", 4: "pre-deinstall", 5: "post-deinstall",
                 6: "pre-upgrade", 7: "post-upgrade"}
INT_FIELDS = {"installed-size", "file-size", "provider-priority", "build-time", "layer", "match", "mode", "size",
              "mtime", "replaces-priority"}


class FormatError(Exception):
    pass


@dataclasses.dataclass
class Block:
    type: int
    offset: int  # in the uncompressed file
    header_size: int
    payload: bytes
    padding: bytes


@dataclasses.dataclass
class Package:
    schema: bytes
    compression: str
    raw: bytes  # the uncompressed file
    blocks: list[Block]
    adb: bytes  # the ADB block's payload
    header: tuple[int, int, int]  # compat_ver, ver, reserved
    root: dict  # the package, decoded by the schema
    data: list[tuple[int, int, bytes]]  # (path index, file index, content) of each DATA block
    slot_types: dict[str, set[int]]  # which value types each field was found with
    uid_offset: int  # where info.hashes' bytes are in the ADB block


def decompress(data: bytes) -> tuple[str, bytes]:
    if data[:4] == b"ADB.":
        return "none", data
    if data[:4] == b"ADBd":
        d = zlib.decompressobj(-15)
        raw = d.decompress(data[4:]) + d.flush()
        if not d.eof or d.unused_data:
            raise FormatError("the deflate stream does not end where the file does")
        return "deflate", raw
    raise FormatError(f"not an ADB file: starts with {data[:4]!r}")


def blocks(raw: bytes) -> list[Block]:
    out, pos = [], 8
    while pos < len(raw):
        if pos % 8:
            raise FormatError(f"block at {pos} is not 8-aligned")
        (type_size,) = struct.unpack_from("<I", raw, pos)
        type_, header = type_size >> 30, 4
        size = type_size & 0x3FFFFFFF
        if type_ == BLOCK_EXT:
            type_, header = type_size & 0x3FFFFFFF, 16
            (size,) = struct.unpack_from("<Q", raw, pos + 8)
        if size < header:
            raise FormatError(f"block at {pos}: size {size} below its header")
        end = pos + size + (-size % 8)
        if end > len(raw):
            raise FormatError(f"block at {pos} runs past the end")
        out.append(Block(type_, pos, header, raw[pos + header:pos + size], raw[pos + size:end]))
        pos = end
    return out


class _Values:
    """The values of one ADB block (adb_r_*), checked for alignment and smallest form."""

    def __init__(self, adb: bytes):
        self.adb = adb
        self.types: dict[str, set[int]] = {}

    def _at(self, offset: int, size: int, alignment: int) -> bytes:
        if offset % alignment:
            raise FormatError(f"value at {offset} is not {alignment}-aligned")
        if offset + size > len(self.adb):
            raise FormatError(f"value at {offset} runs past the ADB block")
        return self.adb[offset:offset + size]

    def int(self, v: int) -> int:
        t, x = v >> 28, v & 0x0FFFFFFF
        if t == 0x1:
            return x
        if t == 0x2:
            n = struct.unpack("<I", self._at(x, 4, 4))[0]
            if n < 0x10000000:
                raise FormatError(f"INT32 {n} fits a direct INT")
            return n
        if t == 0x3:
            n = struct.unpack("<Q", self._at(x, 8, 4))[0]
            if n < 1 << 32:
                raise FormatError(f"INT64 {n} fits an INT32")
            return n
        raise FormatError(f"{v:#x} is not an integer")

    def blob(self, v: int) -> bytes:
        t, x = v >> 28, v & 0x0FFFFFFF
        for type_, fmt, lo in ((0x8, "<B", 1), (0x9, "<H", 0x100), (0xA, "<I", 0x10000)):
            if t == type_:
                width = struct.calcsize(fmt)
                (n,) = struct.unpack(fmt, self._at(x, width, width))
                if n < lo:
                    raise FormatError(f"blob of {n} bytes in a wider form than it needs")
                return self._at(x + width, n, 1)
        raise FormatError(f"{v:#x} is not a blob")

    def slots(self, v: int) -> list[int]:
        t, x = v >> 28, v & 0x0FFFFFFF
        if t not in (0xD, 0xE):
            raise FormatError(f"{v:#x} is not an array or object")
        (n,) = struct.unpack("<I", self._at(x, 4, 4))
        if n < 2:
            raise FormatError(f"object at {x} with {n} slots (a NULL is written instead)")
        values = list(struct.unpack(f"<{n}I", self._at(x, 4 * n, 4)))
        return values[1:]

    def obj(self, v: int, fields: dict[int, str], decode: dict[str, object]) -> dict:
        values = self.slots(v)
        if values[-1] == 0:
            raise FormatError("an object ends in a NULL slot (adb.c drops them)")
        out = {}
        for number, value in enumerate(values, 1):
            if value == 0:
                continue
            if number not in fields:
                raise FormatError(f"field {number} is not in the schema")
            name = fields[number]
            self.types.setdefault(name, set()).add(value >> 28)
            out[name] = decode[name](value) if name in decode else (
                self.int(value) if name in INT_FIELDS else self.blob(value))
        return out

    def array(self, v: int, item) -> list:
        values = self.slots(v)
        if 0 in values:
            raise FormatError("an array holds a NULL (adb_wa_append leaves them out)")
        return [item(x) for x in values]

    def package(self, root: int) -> dict:
        acl = lambda v: self.obj(v, ACL_FIELDS, {})  # noqa: E731
        dep = lambda v: self.obj(v, DEPENDENCY_FIELDS, {})  # noqa: E731
        deps = lambda v: self.array(v, dep)  # noqa: E731
        file = lambda v: self.obj(v, FILE_FIELDS, {"acl": acl})  # noqa: E731
        dir_ = lambda v: self.obj(v, DIR_FIELDS, {"acl": acl, "files": lambda a: self.array(a, file)})  # noqa: E731
        info = lambda v: self.obj(v, PKGINFO_FIELDS, {k: deps for k in  # noqa: E731
                                                      ("depends", "provides", "replaces", "install-if", "recommends")})
        return self.obj(root, PACKAGE_FIELDS, {
            "info": info,
            "paths": lambda v: self.array(v, dir_),
            "scripts": lambda v: self.obj(v, SCRIPT_FIELDS, {}),
            "triggers": lambda v: self.array(v, self.blob),
        })


def read(data: bytes) -> Package:
    compression, raw = decompress(data)
    if raw[:4] != MAGIC:
        raise FormatError(f"magic {raw[:4]!r}")
    schema = raw[4:8]
    bl = blocks(raw)
    kinds = [b.type for b in bl]
    if not kinds or kinds[0] != BLOCK_ADB:
        raise FormatError("the first block is not the ADB block")
    rest = kinds[1:]
    if rest != sorted(rest) or any(k not in (BLOCK_SIG, BLOCK_DATA) for k in rest):
        raise FormatError(f"blocks {kinds}: one ADB, then SIG, then DATA blocks only")
    for b in bl:
        if b.padding.strip(b"\0"):
            raise FormatError(f"block at {b.offset}: padding is not zeros")
    adb = bl[0].payload
    compat, ver, reserved, root = struct.unpack_from("<BBHI", adb, 0)
    if compat != 0:
        raise FormatError(f"adb_compat_ver {compat} (apk refuses all but 0)")
    values = _Values(adb)
    pkg = values.package(root)
    data = []
    for b in bl[1:]:
        if b.type == BLOCK_DATA:
            path_index, file_index = struct.unpack_from("<II", b.payload)
            data.append((path_index, file_index, b.payload[8:]))
    hashes = values.slots(values.slots(root)[0])[2]
    uid_offset = (hashes & 0x0FFFFFFF) + 1
    return Package(schema, compression, raw, bl, adb, (compat, ver, reserved), pkg, data, values.types, uid_offset)


def unique_id(pkg: Package) -> bytes:
    """app_mkpkg.c: the first 20 bytes of the sha256 of the ADB block, taken while the
    hashes field held zeros."""
    at, n = pkg.uid_offset, len(pkg.root["info"]["hashes"])
    return hashlib.sha256(pkg.adb[:at] + bytes(n) + pkg.adb[at + n:]).digest()[:n]


def files(pkg: Package) -> dict[str, dict]:
    """Every file as {path: {"mode", "user", "group", "size", "mtime", "hash", "content"}},
    contents taken from the DATA blocks, which must come in path and file order."""
    out, expected = {}, []
    for i, d in enumerate(pkg.root["paths"], 1):
        base = d.get("name", b"").decode()
        for j, f in enumerate(d.get("files", []), 1):
            path = f"/{base}/{f['name'].decode()}" if base else f"/{f['name'].decode()}"
            out[path] = {**f["acl"], "size": f.get("size", 0), "mtime": f["mtime"], "hash": f["hash"], "content": b""}
            if f.get("size", 0):
                expected.append((i, j, path))
    if [(p, q) for p, q, _ in pkg.data] != [(p, q) for p, q, _ in expected]:
        raise FormatError("DATA blocks do not follow the paths' order")
    for (_, _, content), (_, _, path) in zip(pkg.data, expected, strict=True):
        out[path]["content"] = content
    return out


def directories(pkg: Package) -> dict[str, dict]:
    return {"/" + d.get("name", b"").decode(): d["acl"] for d in pkg.root["paths"]}
