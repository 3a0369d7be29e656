"""One training run per checkpoint: a lock file ``CHECKPOINT.lock`` held with ``flock``.

The operating system releases the lock when its holder exits, however it exits, so a run killed
with SIGKILL never blocks the next one; the file it leaves says only which process held it and is
taken over. The holder removes the file when it is done. A second run given the same checkpoint
stops at once with a one-line error naming the holder. Where ``fcntl`` is missing (Windows) runs
are not locked.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from .errors import UsageError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

MARK = b"backprop checkpoint lock"
_ATTEMPTS = 5


def _open(path: str, shown: str) -> int:
    """The lock file, opened without following a link and without truncating it."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.open(path, flags, 0o644)
    except OSError as error:
        raise UsageError(
            f"--checkpoint {shown}: cannot open the lock file {path} ({error.strerror or error})"
        ) from None


def _holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 200).decode("ascii", "replace")
    return text.removeprefix(MARK.decode()).strip() or "pid unknown"


def _still_named(fd: int, path: str) -> bool:
    """True unless the file was removed or replaced between opening and locking it."""
    try:
        named = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _acquire(path: str, shown: str) -> int:
    for _ in range(_ATTEMPTS):
        fd = _open(path, shown)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise UsageError(
                f"--checkpoint {shown}: in use by another backprop run ({holder}); wait for it to "
                "finish or choose another --checkpoint"
            ) from None
        content = os.pread(fd, len(MARK), 0)
        if content and content != MARK:
            os.close(fd)
            raise UsageError(
                f"--checkpoint {shown}: {path} exists and is not a backprop lock file; it is left "
                "alone: move it away or choose another --checkpoint"
            )
        if _still_named(fd, path):
            os.ftruncate(fd, 0)
            os.pwrite(fd, MARK + f" pid {os.getpid()}\n".encode(), 0)
            return fd
        os.close(fd)  # its holder removed it as we opened it: lock the new one
    raise UsageError(f"--checkpoint {shown}: the lock file {path} keeps changing; try again")


@contextlib.contextmanager
def checkpoint_lock(checkpoint: str, shown: str) -> Iterator[None]:
    """Hold ``checkpoint + ".lock"`` for the duration; a UsageError if another run holds it.

    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "run.ckpt")
    ...     with checkpoint_lock(path, "run.ckpt"):
    ...         held = os.path.exists(path + ".lock")
    ...     print(held, os.listdir(tmp))
    True []
    """
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    path = checkpoint + ".lock"
    fd = _acquire(path, shown)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # while still holding it, so no one locks the removed file
        os.close(fd)
