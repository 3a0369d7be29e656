"""Atomic file writes: readers see the old file or the new one, never a mix.

The new bytes go to a hidden temporary file beside the target, ``.NAME.XXXXXXXX.tmp`` (eight
characters from ``tempfile``'s alphabet), which then replaces the target by an atomic rename. A
process killed between the two leaves that temporary file behind; the next write of the same
target removes such leftovers once they are ``STALE_AFTER_SECONDS`` old (a live writer's file is
younger: it is written and renamed within one save), and the temporary files of such a file
(``..NAME.XXXXXXXX.tmp.YYYYYYYY.tmp``: a save into a ``temporary_sibling``). Nothing else is ever
removed: only regular files of this user whose names match these patterns for that one target.

>>> import os, tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = os.path.join(tmp, "notes.txt")
...     atomic_write(path, b"first")
...     atomic_write(path, b"second")
...     print(open(path, "rb").read(), sorted(os.listdir(tmp)))
b'second' ['notes.txt']
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time

__all__ = ["STALE_AFTER_SECONDS", "atomic_write", "replace_atomically", "temporary_sibling"]

STALE_AFTER_SECONDS = 60.0
# tempfile's names: eight characters from this alphabet between our prefix and suffix
_RANDOM_PART = r"[a-z0-9_]{8}"


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _new_file_mode(path: str) -> int:
    """The permission bits of the file at ``path``, or what the umask gives a new file."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _is_stale_temporary(entry: os.DirEntry, pattern: re.Pattern, now: float) -> bool:
    if not pattern.fullmatch(entry.name):
        return False
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError:
        return False
    owner_matches = not hasattr(os, "geteuid") or info.st_uid == os.geteuid()
    return (
        stat.S_ISREG(info.st_mode) and owner_matches and now - info.st_mtime > STALE_AFTER_SECONDS
    )


def _remove_stale_temporaries(directory: str, name: str) -> None:
    """Remove ``.NAME.XXXXXXXX.tmp`` files for target ``name`` left by a killed writer, and the
    temporary files of such a file (``temporary_sibling`` hands it to writers that use this)."""
    own = rf"\.{re.escape(name)}\.{_RANDOM_PART}\.tmp"
    pattern = re.compile(rf"{own}|\.{own}\.{_RANDOM_PART}\.tmp")
    now = time.time()
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        stale = [entry.path for entry in entries if _is_stale_temporary(entry, pattern, now)]
    for path in stale:
        with contextlib.suppress(OSError):
            os.unlink(path)


def temporary_sibling(path: str | os.PathLike) -> str:
    """Create an empty hidden temporary file beside ``path`` and return its name.

    It is named ``.NAME.XXXXXXXX.tmp`` like ``atomic_write``'s own, so that a copy left behind by
    a killed process is removed by the next write of ``path``; stale ones are removed first.

    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     temp = temporary_sibling(os.path.join(tmp, "model.st"))
    ...     name = os.path.basename(temp)
    >>> name.startswith(".model.st.") and name.endswith(".tmp") and len(name) == 22
    True
    """
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    _remove_stale_temporaries(directory, name)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    os.close(fd)
    return temp


def replace_atomically(temp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Rename the finished file ``temp`` onto ``path`` and fsync the directory.

    ``temp`` takes the permission bits of the file it replaces, or those the umask gives a new
    file.

    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "out.txt")
    ...     temp = temporary_sibling(path)
    ...     _ = open(temp, "w").write("done")
    ...     replace_atomically(temp, path)
    ...     print(open(path).read(), os.listdir(tmp))
    done ['out.txt']
    """
    path = os.fspath(path)
    with contextlib.suppress(OSError):
        os.chmod(temp, _new_file_mode(path))
    os.replace(temp, path)
    _fsync_directory(os.path.dirname(os.path.abspath(path)))


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a mix.

    The bytes go to a temporary file in the same directory, are flushed and fsynced, and the
    file replaces ``path`` by an atomic rename, after which the directory is fsynced; on any
    failure the temporary file is removed and ``path`` is left as it was. Temporary files of
    ``path`` left by a killed writer are removed first.

    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     atomic_write(os.path.join(tmp, "a.bin"), b"\\x00\\x01")
    ...     print(open(os.path.join(tmp, "a.bin"), "rb").read())
    b'\\x00\\x01'
    """
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    mode = _new_file_mode(path)
    _remove_stale_temporaries(directory, name)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(directory)
