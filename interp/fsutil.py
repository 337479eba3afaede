"""Atomic file writes: a reader never sees a half-written file under its final name."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def _fsync(path: Path, flags: int = 0) -> None:
    fd = os.open(path, os.O_RDONLY | flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
