"""One writer per work directory: an advisory ``flock`` lock with a readable holder record.

:func:`workdir_lock` takes ``WORKDIR/.tpc-interp.lock`` with :func:`fcntl.flock`. The kernel
drops the lock when its holder dies (``kill -9`` included), so a lock file left behind by a
killed process is never "stale": the next process simply gets it, and says whose record it
took over. While the lock is held, the file names the holder (PID, host, start time,
command), and a second process

* refuses at once with one line naming the holder (the default), or
* waits for it, printing one line, when ``wait`` seconds (or ``TPC_INTERP_LOCK_WAIT``) are
  given, and refuses after that long.

The lock is re-entrant within a process (``reproduce`` -> matrix stage -> ``train_one`` each
take it), and taking it first removes the temporary files (``.*.<hex>.tmp*``) that killed
writers left below the work directory (:func:`interp.core.fsutil.clean_temp_files`); nobody else
can be writing them while we hold the lock.

File systems without ``flock`` (some network mounts) raise :class:`OSError` on locking; the
lock then falls back to the holder record alone and treats a record whose PID is not alive on
this host as stale.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from interp.core.errors import TPCInterpError

LOCK_FILE = ".tpc-interp.lock"
WAIT_ENV = "TPC_INTERP_LOCK_WAIT"


class WorkdirBusyError(TPCInterpError):
    """Another live process holds the work directory's lock."""


_held: dict[str, list[Any]] = {}  # resolved lock path -> [fd, depth]
_guard = threading.Lock()


def _holder_record() -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(sys.argv)[:300],
    }


def _read_holder(path: Path) -> dict[str, Any]:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}


def describe_holder(info: dict[str, Any]) -> str:
    """``"PID 123 on host h since 2026-... (tpc-interp train ...)"``, or "an unknown process"."""
    if not info:
        return "an unknown process"
    text = f"PID {info.get('pid')} on host {info.get('host')} since {info.get('started')}"
    if info.get("command"):
        text += f" ({info['command']})"
    return text


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            return None  # type: ignore[return-value]  # no flock here: record-only fallback
        raise


def _record_only_free(path: Path) -> bool:
    info = _read_holder(path)
    if not info or info.get("pid") == os.getpid():
        return True
    if info.get("host") != socket.gethostname():
        return False  # cannot tell whether a process on another host is alive
    return not _pid_alive(info.get("pid"))


def _write_record(fd: int, record: dict[str, Any]) -> None:
    data = (json.dumps(record) + "\n").encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


@contextlib.contextmanager
def workdir_lock(
    workdir: str | Path,
    wait: float | None = None,
    log: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Holds ``workdir``'s lock for the ``with`` block (created if missing); re-entrant.

    Args:
        workdir: The work directory (created).
        wait: Seconds to wait for another holder; ``None``: ``$TPC_INTERP_LOCK_WAIT`` or 0
            (refuse at once).
        log: One-line messages (waiting, stale record taken over); default: stderr.

    Yields:
        The lock file.

    Raises:
        WorkdirBusyError: Another live process holds it (after ``wait`` seconds).
        OSError: The folder cannot be created or the lock file opened.
    """
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    with _lock_file(folder / LOCK_FILE, folder, "work directory", wait, log, clean=True) as p:
        yield p


def output_lock_path(path: str | Path) -> Path:
    """The lock file of one output file: ``.<name>.tpc-interp.lock`` beside it."""
    path = Path(path)
    return path.parent / f".{path.name}{LOCK_FILE}"


@contextlib.contextmanager
def output_lock(
    path: str | Path,
    wait: float | None = None,
    log: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Holds the lock of one output file (``predict --out``) for the ``with`` block.

    Two processes writing one file each write their own temporary file, so the file itself is
    never mixed; the lock makes the second refuse at once (naming the holder) instead of
    silently replacing the first's table while the first reports it as its own. The lock
    file lives beside ``path`` (whose folder must exist) and is removed on release.

    Raises:
        WorkdirBusyError: Another live process writes ``path`` (after ``wait`` seconds).
        OSError: The lock file cannot be created (folder missing or not writable).
    """
    path = Path(path)
    with _lock_file(output_lock_path(path), path, "output file", wait, log, remove=True) as p:
        yield p


def owner_workdir(path: str | Path) -> Path:
    """The work directory that owns ``path``: the nearest folder at or above it holding a
    lock file (:data:`LOCK_FILE`), else ``path`` itself.

    ``evaluate`` writes into ``WORKDIR/runs/<model>/<CH>`` and ``explain`` into a matrix run's
    folder; locking the owner makes them refuse while ``train``/``matrix``/``reproduce``
    (which hold that lock) write there, and re-enter it inside ``reproduce``.
    """
    start = Path(path).resolve()
    for folder in (start, *start.parents):
        if (folder / LOCK_FILE).is_file():
            return folder
    return Path(path)


@contextlib.contextmanager
def workdir_locks(
    folders: list[str | Path], log: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Holds the locks of several work directories (same folder once, in path order)."""
    unique = sorted({str(Path(f).resolve()): Path(f) for f in folders}.items())
    with contextlib.ExitStack() as stack:
        for _key, folder in unique:
            stack.enter_context(workdir_lock(folder, log=log))
        yield


@contextlib.contextmanager
def _lock_file(
    path: Path,
    folder: Path,
    what: str,
    wait: float | None,
    log: Callable[[str], None] | None,
    clean: bool = False,
    remove: bool = False,
) -> Iterator[Path]:
    """Takes the ``flock`` on ``path`` (re-entrant) for the lock of ``folder`` (a ``what``).

    ``clean``: remove the temporary files below ``folder`` once held; ``remove``: unlink the
    lock file on release (the holder re-checks after locking that the file it locked is still
    the one at ``path``, so an unlink racing a new opener cannot give two holders).
    """
    say = log or (lambda m: print(m, file=sys.stderr))
    key = str(path.resolve())
    with _guard:
        if key in _held:
            _held[key][1] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield path
        finally:
            with _guard:
                _held[key][1] -= 1
        return

    if wait is None:
        try:
            wait = float(os.environ.get(WAIT_ENV, "0") or 0)
        except ValueError:
            wait = 0.0
    previous = _read_holder(path)
    deadline = time.monotonic() + max(wait, 0.0)
    announced = False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        got = _try_flock(fd)
        if got is None:
            got = _record_only_free(path)
        if got and remove and not _same_file(fd, path):
            os.close(fd)  # unlinked by its last holder between our open and our lock: again
            continue
        if got:
            break
        os.close(fd)
        holder = describe_holder(_read_holder(path))
        if time.monotonic() >= deadline:
            hint = "use another --workdir" if what == "work directory" else "use another --out"
            raise WorkdirBusyError(
                f"{folder}: {what} is in use by {holder}; wait for it to finish or "
                f"{hint} (set {WAIT_ENV}=SECONDS to wait)"
            )
        if not announced:
            say(f"{folder}: waiting up to {wait:.0f} s for {holder} to finish")
            announced = True
        time.sleep(0.2)
    try:
        if previous and previous.get("pid") != os.getpid():
            if not _pid_alive(previous.get("pid")) or previous.get("host") != socket.gethostname():
                say(
                    f"{folder}: taking over the lock left by {describe_holder(previous)}, "
                    "which is no longer running"
                )
        _write_record(fd, _holder_record())
        with _guard:
            _held[key] = [fd, 1]
        if clean:
            from interp.core.fsutil import clean_temp_files

            removed = clean_temp_files(folder)
            if removed:
                say(f"{folder}: removed {removed} temporary file(s) left by an interrupted run")
        try:
            yield path
        finally:
            with _guard:
                del _held[key]
            with contextlib.suppress(OSError):
                if remove:
                    path.unlink()
                else:
                    os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the flock


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


_process_locks: list[contextlib.AbstractContextManager[Path]] = []


def hold_workdir_lock(workdir: str | Path, log: Callable[[str], None] | None = None) -> Path:
    """Takes ``workdir``'s lock for the rest of this process (commands that run many stages).

    The kernel releases it when the process ends, however it ends.

    Raises:
        WorkdirBusyError: As :func:`workdir_lock`.
    """
    import atexit

    cm = workdir_lock(workdir, log=log)
    path = cm.__enter__()
    _process_locks.append(cm)
    atexit.register(cm.__exit__, None, None, None)  # clears the holder record on a normal exit
    return path
