"""The frame format between a check's child, the worker and the judge (numpy only, both sides).

A frame is ``<8-byte length><JSON header><8-byte length><array bytes>``, lengths unsigned
little-endian. The header's ``arrays`` lists, per array, its name, dtype string, shape, and the
offset and byte count of its raw bytes in the blob: no pickle, no object the student's code made.
The child writes one frame per check (:func:`send_result`), the worker forwards it to the judge,
and the judge reads the worker's stream (:func:`complete`, :func:`frames`) and rebuilds the
arrays with ``np.frombuffer`` (:func:`decode_arrays`), validating every field, since every field
comes from a process that ran the student's code.
"""

import json
import math
import os
import struct

import numpy as np

# References taken before any student code runs: a submission that monkeypatches numpy or json
# changes its own results at most, never how they are written.
_array = np.array
_ndarray = np.ndarray
_dumps = json.dumps
_write = os.write

# the numbers numpy arrays of a submission can hold, little-endian
DTYPES = frozenset({"<f8", "<f4", "<f2", "<i8", "<i4", "<i2", "|i1", "<u8", "<u4", "<u2", "|u1",
                    "|b1"})


class MalformedFrame(ValueError):
    pass


def send_result(fd, header, arrays):
    """Write ``header`` and ``arrays`` ({name: array}) as one frame on ``fd``."""
    blobs, specs, offset = [], [], 0
    for name, v in arrays.items():
        if type(v) is not _ndarray:
            v = _array(v)
        if v.dtype.kind not in "fiub":
            v = _array(v, dtype=float)
        data = v.tobytes()
        specs.append({"name": name, "dtype": v.dtype.str, "shape": list(v.shape),
                      "offset": offset, "nbytes": len(data)})
        blobs.append(data)
        offset += len(data)
    header["arrays"] = specs
    write_frame(fd, _dumps(header).encode(), b"".join(blobs))


def write_frame(fd, head, blob):
    for part in (struct.pack("<Q", len(head)), head, struct.pack("<Q", len(blob)), blob):
        view = memoryview(part)
        while view:
            n = _write(fd, view)
            view = view[n:]


def read_frame(data, pos=0):
    """(header, blob, position after the frame) of the frame starting at ``pos`` of ``data``."""
    n = int.from_bytes(data[pos:pos + 8], "little")
    head = json.loads(data[pos + 8:pos + 8 + n])
    pos += 8 + n
    m = int.from_bytes(data[pos:pos + 8], "little")
    return head, data[pos + 8:pos + 8 + m], pos + 8 + m


def frames(data):
    """Every (header, blob) of ``data``, a stream of frames."""
    pos = 0
    while pos + 8 <= len(data):
        head, blob, pos = read_frame(data, pos)
        yield head, blob


def complete(data, pos, cap):
    """(position after the last complete frame from ``pos``, frames completed, what is wrong):
    a header or a blob announced larger than ``cap`` bytes is wrong before it is read."""
    n = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos:pos + 8], "little")
        if size > cap:
            return pos, n, f"a header of {size} bytes"
        if pos + 16 + size > len(data):
            break
        blob = int.from_bytes(data[pos + 8 + size:pos + 16 + size], "little")
        if blob > cap:
            return pos, n, f"{blob} bytes of arrays"
        if pos + 16 + size + blob > len(data):
            break
        pos, n = pos + 16 + size + blob, n + 1
    return pos, n, None


def decode_arrays(head, blob):
    """{name: array} from a frame's header and blob, views on ``blob``; MalformedFrame on any
    field that is not a name, a dtype of DTYPES, a shape, or a byte range matching both."""
    specs = head.get("arrays", [])
    if not isinstance(specs, list):
        raise MalformedFrame(f"arrays is a {type(specs).__name__}, not a list")
    out = {}
    for spec in specs:
        if not isinstance(spec, dict):
            raise MalformedFrame("an array spec is not an object")
        name, dtype, shape = spec.get("name"), spec.get("dtype"), spec.get("shape")
        start, n = spec.get("offset"), spec.get("nbytes")
        if not isinstance(name, str) or not isinstance(dtype, str) or dtype not in DTYPES:
            raise MalformedFrame(f"array {name!r}: dtype {dtype!r} is not one of {sorted(DTYPES)}")
        if (not isinstance(shape, list) or len(shape) > 8
                or not all(type(s) is int and 0 <= s for s in shape)):
            raise MalformedFrame(f"array {name!r}: shape {shape!r} is not a list of sizes")
        if type(start) is not int or type(n) is not int or start < 0 or n < 0 or start + n > len(blob):
            raise MalformedFrame(f"array {name!r}: bytes {start!r}+{n!r} outside the {len(blob)} sent")
        dt = np.dtype(dtype)
        count = math.prod(shape)
        if count * dt.itemsize != n:
            raise MalformedFrame(f"array {name!r}: shape {shape} of {dtype} is not {n} bytes")
        out[name] = np.frombuffer(blob, dtype=dt, count=count, offset=start).reshape(shape)
    return out
