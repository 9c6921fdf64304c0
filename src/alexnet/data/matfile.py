"""Just enough of the MATLAB 5 file format to read the ImageNet devkit's `meta.mat`.

The devkit maps its 1-based ILSVRC2012_ID labels to WordNet ids only in `meta.mat`. scipy reads
it, but scipy is a heavy dependency for one table; this reader handles the element types that
file uses (structs, cells, char and numeric arrays, zlib-compressed elements) and nothing else.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

MI_MATRIX, MI_COMPRESSED = 14, 15
MI_DTYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8", 13: "u8",
             16: "u1", 17: "u2", 18: "u4"}
MX_CELL, MX_STRUCT, MX_OBJECT, MX_CHAR, MX_SPARSE = 1, 2, 3, 4, 5


class MatFileError(ValueError):
    pass


def _elements(buf: bytes, endian: str):
    """(type, payload) of every data element in `buf`."""
    pos = 0
    while pos + 8 <= len(buf):
        mtype, nbytes = struct.unpack_from(endian + "II", buf, pos)
        if mtype >> 16:  # small element: type and size share the first word, data the second
            yield mtype & 0xFFFF, buf[pos + 4 : pos + 4 + (mtype >> 16)]
            pos += 8
            continue
        payload = buf[pos + 8 : pos + 8 + nbytes]
        pos += 8 + nbytes
        if mtype == MI_COMPRESSED:
            yield from _elements(zlib.decompress(payload), endian)
            continue
        pos += -pos % 8  # 8-byte alignment
        yield mtype, payload


def _numbers(mtype: int, payload: bytes, endian: str) -> np.ndarray:
    if mtype not in MI_DTYPES:
        raise MatFileError(f"unsupported MAT element type {mtype}")
    return np.frombuffer(payload, dtype=np.dtype(MI_DTYPES[mtype]).newbyteorder(endian))


def _matrix(payload: bytes, endian: str):
    if not payload:
        return None
    parts = _elements(payload, endian)
    flags = _numbers(*next(parts), endian)
    mx_class = int(flags[0]) & 0xFF
    dims = tuple(int(d) for d in _numbers(*next(parts), endian))
    next(parts)  # the array's name
    count = int(np.prod(dims))
    if mx_class == MX_CELL:
        return [_matrix(p, endian) for _, p in (next(parts) for _ in range(count))]
    if mx_class == MX_STRUCT:
        width = int(_numbers(*next(parts), endian)[0])
        raw = next(parts)[1]
        names = [raw[i : i + width].split(b"\0")[0].decode() for i in range(0, len(raw), width)]
        return [{name: _matrix(next(parts)[1], endian) for name in names} for _ in range(count)]
    if mx_class == MX_CHAR:
        codes = _numbers(*next(parts), endian) if count else np.zeros(0, np.uint16)
        if len(dims) == 2 and dims[0] > 1:  # several rows: column-major, one string per row
            return ["".join(map(chr, row)).rstrip() for row in codes.reshape(dims[::-1]).T]
        return "".join(map(chr, codes))
    if mx_class in (MX_OBJECT, MX_SPARSE):
        raise MatFileError("MAT objects and sparse arrays are not supported")
    values = _numbers(*next(parts), endian) if count else np.zeros(0)
    return values.reshape(dims[::-1]).T if len(dims) > 1 and values.size == count else values


def load_mat(path: str | Path) -> dict:
    """Every variable of a MATLAB 5 `.mat` file: structs as lists of dicts, char arrays as str."""
    data = Path(path).read_bytes()
    if len(data) < 128 or data[126:128] not in (b"IM", b"MI"):
        raise MatFileError(f"{path} is not a MATLAB 5 .mat file (v7.3 files are HDF5: use scipy/h5py)")
    endian = "<" if data[126:128] == b"IM" else ">"
    out = {}
    for mtype, payload in _elements(data[128:], endian):
        if mtype != MI_MATRIX:
            continue
        parts = _elements(payload, endian)
        next(parts), next(parts)
        name = next(parts)[1].decode()
        out[name] = _matrix(payload, endian)
    return out
