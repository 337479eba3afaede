"""Writing plotly figures: offline HTML (one shared plotly.js per folder) plus static PNG/PDF.

The interactive HTML comes from plotly; the static PNG and PDF are drawn from the same
``go.Figure`` by :mod:`interp.plots.static` (matplotlib, Agg backend), so they need no
browser and look the same on every machine. kaleido is not used.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from types import TracebackType

import plotly.graph_objects as go

from interp.core.fsutil import atomic_path, atomic_write_bytes, digest_problem

log = logging.getLogger(__name__)


class FigureWriter:
    """Writes figures into one folder: ``name.html`` plus ``name.png`` / ``name.pdf``.

    Args:
        folder: Output folder (created). It gets one shared ``plotly.min.js``.
        png: Also write the static images; ``False`` writes HTML only.
        scale: PNG pixel scale: the PNG has ``100 * scale`` dpi (``width x scale`` pixels).
        formats: Static formats (default :data:`~interp.plots.static.FORMATS`, PNG and PDF).
        workers: Processes drawing the static images in the background (0: drawn inline by
            :meth:`write`). The HTML is always written at once; the images are complete after
            :meth:`finish` (called on leaving the ``with`` block). The workers are forked from
            a fresh single-threaded server (``forkserver``), never from this process, which
            may run JAX threads; each figure travels as its ``to_dict()``.

    Attributes:
        png_skipped_reason: Why static images were not written (disabled, or the last
            rendering failure), or ``None``.
        written: Paths written so far.
    """

    def __init__(
        self,
        folder: str | Path,
        png: bool = True,
        scale: float = 1.5,
        formats: tuple[str, ...] | None = None,
        workers: int = 0,
    ) -> None:
        from interp.plots.static import FORMATS

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.png = png
        self.formats = tuple(formats if formats is not None else FORMATS) if png else ()
        self.dpi = max(round(100 * scale), 72)
        self.png_skipped_reason: str | None = None if png else "static image export disabled"
        if self.formats:
            try:
                import matplotlib  # noqa: F401
            except ImportError:  # an environment installed before the dependency was added
                self.formats = ()
                self.png_skipped_reason = "matplotlib is not installed (pip install matplotlib)"
        self.written: list[Path] = []
        self._js_checked = False
        self.workers = max(int(workers), 0)
        self._pool: ProcessPoolExecutor | None = None
        self._pending: list[tuple[str, Future]] = []

    def __enter__(self) -> FigureWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.finish()
        self.close()
        return None

    def finish(self) -> None:
        """Waits for the background static images; afterwards :attr:`written` and
        :attr:`png_skipped_reason` are complete (a no-op without workers)."""
        pending, self._pending = self._pending, []
        for name, fut in pending:
            try:
                self.written += fut.result()
            except Exception as exc:  # one figure failing keeps the others and the HTML
                self._failed(name, exc)

    def close(self) -> None:
        """Stops the worker processes (pending images are dropped: call :meth:`finish`)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._pending = []

    def _failed(self, name: str, exc: BaseException) -> None:
        self.png_skipped_reason = f"static export of {name} failed: {exc}"
        log.warning("%s: %s", self.folder / name, self.png_skipped_reason)

    def write(self, fig: go.Figure, name: str, width: int = 900, height: int = 650) -> Path:
        """Writes ``name.html`` and the static images atomically; returns the HTML path.

        A figure the static renderer cannot draw keeps its HTML; the failure is logged and
        kept in :attr:`png_skipped_reason`.
        """
        html = self.folder / f"{name}.html"
        self.ensure_plotly_js()
        with atomic_path(html) as tmp:
            fig.write_html(tmp, include_plotlyjs="directory", full_html=True)
        self.written.append(html)
        if self.formats:
            self.write_static(fig, name, width, height)
        return html

    def write_static(self, fig: go.Figure, name: str, width: int = 900, height: int = 650) -> None:
        """Writes only the static images of one figure (see :func:`write_static`)."""
        from interp.plots.static import write_static

        paths = [self.folder / f"{name}.{fmt}" for fmt in self.formats]
        if self.workers:
            from interp.plots.static import write_static_dict

            if self._pool is None:
                import multiprocessing

                if "forkserver" in multiprocessing.get_all_start_methods():
                    ctx = multiprocessing.get_context("forkserver")
                    ctx.set_forkserver_preload(["interp.plots.static", "matplotlib.figure"])
                else:  # Windows: no fork at all
                    ctx = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx)
            job = self._pool.submit(
                write_static_dict, fig.to_dict(), [str(p) for p in paths], width, height, self.dpi
            )
            self._pending.append((name, job))
            return
        try:
            self.written += write_static(fig, paths, width, height, dpi=self.dpi)
        except Exception as exc:  # one figure failing keeps the others and the HTML
            self._failed(name, exc)

    def ensure_plotly_js(self) -> Path:
        """Writes the shared ``plotly.min.js`` atomically unless an intact copy is there.

        plotly itself copies the bundle only when no file of that name exists, and not
        atomically; a copy cut short by a kill or a full disk would be kept for good. So the
        file is compared (size, then SHA-256) with the installed plotly's bundle once per
        writer and rewritten (temp file + rename) when it differs.
        """
        path = self.plotly_js
        if self._js_checked:
            return path
        import hashlib

        from plotly.offline import get_plotlyjs

        bundle = get_plotlyjs().encode("utf-8")
        expected = {"bytes": len(bundle), "sha256": hashlib.sha256(bundle).hexdigest()}
        why = digest_problem(path, expected)
        if why is not None:
            if why != "missing":
                log.warning("%s: %s; writing it again", path, why)
            atomic_write_bytes(path, bundle)
        self._js_checked = True
        return path

    @property
    def plotly_js(self) -> Path:
        """The shared plotly.js written beside the HTML files."""
        return self.folder / "plotly.min.js"


def missing_static(folder: str | Path, formats: tuple[str, ...] | None = None) -> list[Path]:
    """Static images missing beside the HTML figures of ``folder`` (``index.html`` excluded).

    A folder written before static export existed (or with it disabled) lists every image
    it lacks, so a rerun knows to fill them in.
    """
    from interp.plots.static import FORMATS

    folder = Path(folder)
    if not folder.is_dir():
        return []
    out = []
    for html in sorted(folder.glob("*.html")):
        if html.name == "index.html":
            continue
        out += [p for f in formats or FORMATS if not (p := html.with_suffix(f".{f}")).is_file()]
    return out
