"""One rule for output folders across commands.

Every command creates the missing folders of its output path, and a command that fails
removes the folders it created (only those, and only while empty), so a failed command
leaves no empty folder behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def output_folder(folder: Path) -> Iterator[Path]:
    """Creates ``folder`` (and missing parents) for the body; on failure removes the ones
    created here again, innermost first, as long as they are empty."""
    folder = Path(folder)
    created: list[Path] = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        created.append(probe)
        probe = probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    except BaseException:
        for path in created:  # innermost first
            with contextlib.suppress(OSError):
                path.rmdir()  # only succeeds on an empty folder
        raise
