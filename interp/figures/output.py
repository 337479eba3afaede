"""Writing plotly figures: offline HTML (one shared plotly.js per folder) plus static PNG.

PNG export uses kaleido >= 1.0, which drives a system Chrome/Chromium (Debian package
``chromium``). One browser is started per process (:class:`FigureWriter`) because each plain
``write_image`` call would start its own (~10 s). Where no browser exists, HTML is written and
the writer says clearly that PNGs were skipped.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path
from types import TracebackType

import plotly.graph_objects as go

from interp.fsutil import atomic_path, atomic_write_bytes, digest_problem

log = logging.getLogger(__name__)

_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_browser() -> str | None:
    """Path of a Chrome/Chromium executable on PATH (or ``$BROWSER_PATH``), else ``None``."""
    import os

    env = os.environ.get("BROWSER_PATH")
    if env and Path(env).exists():
        return env
    for name in _BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


class FigureWriter:
    """Writes figures into one folder; context manager owning one kaleido browser.

    Args:
        folder: Output folder (created). It gets one shared ``plotly.min.js``.
        png: Also write PNG (needs kaleido and a Chromium); ``False`` writes HTML only.
        scale: PNG pixel scale.

    Attributes:
        png_skipped_reason: Why PNGs were not written, or ``None``.
        written: Paths written so far.
    """

    def __init__(self, folder: str | Path, png: bool = True, scale: float = 1.5) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.png = png
        self.scale = scale
        self.png_skipped_reason: str | None = None if png else "PNG export disabled"
        self.written: list[Path] = []
        self._server = False
        self._js_checked = False

    def __enter__(self) -> FigureWriter:
        if self.png:
            self._start_browser()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server:
            import kaleido

            with contextlib.suppress(Exception):
                kaleido.stop_sync_server(silence_warnings=True)
            self._server = False

    def _start_browser(self) -> None:
        try:
            import kaleido
        except ImportError:
            self.png_skipped_reason = "kaleido is not installed (pip install 'tpc-interp[png]')"
            return
        if find_browser() is None:
            self.png_skipped_reason = (
                "no Chrome/Chromium found for PNG export (Debian: apt-get install chromium); "
                "HTML written only"
            )
            return
        try:
            kaleido.start_sync_server(mathjax=False, silence_warnings=True)
            self._server = True
        except Exception as exc:  # browser fails to start: keep HTML, say why
            self.png_skipped_reason = f"could not start a browser for PNG export: {exc}"

    def write(self, fig: go.Figure, name: str, width: int = 900, height: int = 650) -> Path:
        """Writes ``name.html`` (and ``name.png``) atomically; returns the HTML path."""
        html = self.folder / f"{name}.html"
        self.ensure_plotly_js()
        with atomic_path(html) as tmp:
            fig.write_html(tmp, include_plotlyjs="directory", full_html=True)
        self.written.append(html)
        if self._server:
            import kaleido

            png = self.folder / f"{name}.png"
            try:
                with atomic_path(png) as tmp:
                    kaleido.write_fig_sync(
                        fig,
                        path=str(tmp),
                        opts={
                            "format": "png",
                            "width": width,
                            "height": height,
                            "scale": self.scale,
                        },
                    )
                self.written.append(png)
            except Exception as exc:
                self.png_skipped_reason = f"PNG export failed: {exc}"
                log.warning("%s: %s", png, self.png_skipped_reason)
        return html

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
