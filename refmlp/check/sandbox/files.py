"""Reading a submission's file without following a link or reading more than a cap (stdlib only).

Used by the judge (the file's text, to find its class) and by the worker (the bytes it copies
into each check's scratch). The file is opened with O_NOFOLLOW and judged by ``fstat`` of that
very descriptor, so a file swapped for a link, a FIFO or a larger one between the judge's walk
and the read is refused, never followed, waited on or read whole.
"""

import os
import stat

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # not on Windows, where creating links needs privileges


class Refused(ValueError):
    pass


def read_regular(path, cap):
    """The bytes of the regular file ``path``, at most ``cap`` of them; Refused saying why not."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if os.path.islink(path):
            raise Refused(f"{path} is a symbolic link: the checker reads only regular files (a "
                          "link may point outside the submission); put a copy of the file there") from None
        raise Refused(f"cannot read {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Refused(f"{path} is not a regular file")
        if st.st_size > cap:
            raise Refused(f"{path} is {st.st_size} bytes, over the {cap} bytes the checker reads")
        chunks, left = [], cap + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > cap:  # grew since fstat
            raise Refused(f"{path} is over the {cap} bytes the checker reads")
        return data
    finally:
        os.close(fd)
