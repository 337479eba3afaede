"""Atomic file writes: a reader never sees a half-written file under its final name.

Also here: content digests of files (:func:`file_digest`, :func:`digest_problem`) that
records of stages, runs and cached data keep to detect missing, truncated or edited files;
removal of the temporary files a killed writer leaves (:func:`clean_temp_files`); and the
fault-injection hook the test suite uses to kill a process at its k-th write
(``TPC_INTERP_ABORT_AFTER_WRITES=k``: ``os._exit(86)`` right after the k-th completed write).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

ABORT_ENV = "TPC_INTERP_ABORT_AFTER_WRITES"
"""Environment variable: abort (``os._exit(ABORT_EXIT_CODE)``) after this many writes."""
ABORT_EXIT_CODE = 86
WRITE_LOG_ENV = "TPC_INTERP_WRITE_LOG"
"""Environment variable: append the path of every completed write to this file (tests)."""
_writes = 0

TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp(\.[^/]*)?$")
"""Name of an :class:`AtomicFile` temporary file: ``.{name}.{12 hex}.tmp{suffix}``."""


def count_write(path: str | os.PathLike[str]) -> None:
    """Marks one completed write of ``path`` (see ``TPC_INTERP_ABORT_AFTER_WRITES``)."""
    global _writes
    _writes += 1
    log = os.environ.get(WRITE_LOG_ENV)
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{os.fspath(path)}\n")
    limit = os.environ.get(ABORT_ENV)
    if limit and _writes >= int(limit):
        os._exit(ABORT_EXIT_CODE)


def file_digest(path: str | os.PathLike[str], chunk: int = 1 << 20) -> dict[str, Any]:
    """``{"bytes": size, "sha256": hex}`` of a file's content.

    Raises:
        OSError: The file cannot be read.
    """
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
            size += len(block)
    return {"bytes": size, "sha256": h.hexdigest()}


def digest_problem(path: str | os.PathLike[str], expected: Any) -> str | None:
    """Why ``path`` does not match a recorded :func:`file_digest` (``None``: it matches).

    Returns:
        ``"missing"``, ``"unreadable (...)"``, ``"truncated or grown (N bytes, expected M)"``,
        ``"edited (content hash differs)"`` or ``"no valid digest recorded"``.
    """
    if not isinstance(expected, Mapping) or not {"bytes", "sha256"} <= set(expected):
        return "no valid digest recorded"
    p = Path(path)
    if not p.is_file():
        return "missing"
    try:
        size = p.stat().st_size
        if size != expected["bytes"]:
            return f"truncated or grown ({size} bytes, expected {expected['bytes']})"
        if file_digest(p)["sha256"] != expected["sha256"]:
            return "edited (content hash differs)"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    return None


def digests(folder: str | os.PathLike[str], names: Iterator[str] | list[str]) -> dict[str, Any]:
    """``{name: file_digest(folder / name)}`` for the given relative names."""
    return {n: file_digest(Path(folder) / n) for n in names}


def folder_problems(folder: str | os.PathLike[str], recorded: Any) -> list[str]:
    """``["name: why", ...]`` for every recorded file of ``folder`` that no longer matches."""
    if not isinstance(recorded, Mapping):
        return ["no file digests recorded"]
    out = []
    for name, expected in recorded.items():
        why = digest_problem(Path(folder) / name, expected)
        if why:
            out.append(f"{name}: {why}")
    return out


def clean_temp_files(root: str | os.PathLike[str]) -> int:
    """Removes the temporary files of interrupted atomic writes below ``root``.

    Only call this while holding ``root``'s lock (:func:`interp.core.locking.workdir_lock`): a
    live writer's temporary file looks the same.

    Returns:
        How many files were removed.
    """
    removed = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if TEMP_NAME.match(name):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(dirpath, name))
                    removed += 1
    return removed


def _fsync(path: Path, flags: int = 0) -> None:
    fd = os.open(path, os.O_RDONLY | flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(folder: str | os.PathLike[str]) -> None:
    """Fsyncs a folder (its entries: renames into it), best effort (not every file system)."""
    with contextlib.suppress(OSError):
        _fsync(Path(folder), getattr(os, "O_DIRECTORY", 0))


class AtomicFile:
    """A new empty file ``.{name}.{random}.tmp{suffix}`` beside ``path``, renamed onto it later.

    Created with ``O_EXCL`` and mode ``0o666 & ~umask``; ``path`` is untouched until
    :meth:`commit`, so a killed process leaves at most the temporary file.

    Args:
        path: Final destination.
        suffix: Appended to the temporary name (e.g. an extension a library picks formats by).

    Attributes:
        path (Path): Final destination.
        tmp (Path): The temporary file to write.

    Raises:
        OSError: The temporary file cannot be created (missing or unwritable folder).
    """

    def __init__(self, path: str | os.PathLike[str], suffix: str = "") -> None:
        self.path = Path(path)
        self.tmp = self.path.parent / f".{self.path.name}.{secrets.token_hex(6)}.tmp{suffix}"
        os.close(os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))

    def commit(self) -> None:
        """Fsyncs the temporary file, renames it onto ``path`` and fsyncs the folder."""
        _fsync(self.tmp)
        os.replace(self.tmp, self.path)
        with contextlib.suppress(OSError):  # best effort: not every file system allows it
            _fsync(self.path.parent, getattr(os, "O_DIRECTORY", 0))
        count_write(self.path)

    def discard(self) -> None:
        """Removes the temporary file if it is still there (best effort, never raises)."""
        with contextlib.suppress(OSError):
            self.tmp.unlink()


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yields a temporary path in the same folder; renames it to ``path`` on success.

    On an exception the temporary file is removed and ``path`` (new or pre-existing) is left
    untouched. The temporary name keeps ``path``'s extension (libraries pick formats by it).

    Args:
        path: Final destination.
        suffix: Extension for the temporary file (defaults to ``path``'s own).

    Raises:
        OSError: With the destination named, if the folder is missing or not writable.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"{path}: output folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"{path}: output folder {folder} is not writable")
    file = AtomicFile(path, path.suffix if suffix is None else suffix)
    try:
        yield file.tmp
        file.commit()
    except BaseException:
        file.discard()
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Writes ``data`` to ``path`` atomically (temp file, fsync, rename)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Writes UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def append_line(path: str | Path, line: str) -> None:
    """Appends one line (``line`` + newline) to a log file with a single ``write`` call.

    A kill can leave at most the tail of this one line; readers drop an unterminated last
    line (:func:`read_jsonl`).
    """
    data = (line + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    count_write(path)


def read_jsonl(path: str | Path) -> tuple[list[Any], int]:
    """Records of a JSON-lines log, and how many broken lines were dropped.

    A line that does not parse (the half line of a killed writer, or garbage) is dropped
    and counted; a missing file is empty.
    """
    import json

    p = Path(path)
    if not p.is_file():
        return [], 0
    rows, bad = [], 0
    for line in p.read_bytes().decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError:
            bad += 1
    return rows, bad


DIGEST_SUFFIX = ".digest.json"
"""Suffix of the record :func:`record_digest` keeps beside a cached file."""


def record_digest(path: str | Path) -> Path:
    """Writes ``path`` + :data:`DIGEST_SUFFIX` holding :func:`file_digest` of ``path``."""
    import json

    return atomic_write_text(
        Path(str(path) + DIGEST_SUFFIX), json.dumps(file_digest(path), sort_keys=True)
    )


def recorded_digest_problem(path: str | Path) -> str | None:
    """Why a cached file no longer matches the digest :func:`record_digest` kept (or ``None``)."""
    import json

    record = Path(str(path) + DIGEST_SUFFIX)
    try:
        expected = json.loads(record.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "no content digest recorded (written by an older version or interrupted)"
    except (OSError, ValueError) as exc:
        return f"its digest record {record.name} is unreadable ({exc})"
    return digest_problem(path, expected)
