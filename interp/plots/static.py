"""Static PNG / PDF of a plotly figure, drawn with matplotlib (Agg): no browser needed.

One source of truth: the figure builders in :mod:`interp.plots` return plotly figures;
this module reads the same ``go.Figure`` (its traces and layout) and draws it with
matplotlib, so the interactive HTML and the static images show the same data everywhere.

Supported: ``heatmap`` (colour scale, ``zmin``/``zmax``, cell text, titled colour bar),
``surface`` (a matplotlib 3D surface with the scene's axis titles, camera and aspect ratio,
its colour bar below it), ``scatter`` (lines / markers, asymmetric ``error_x``/``error_y``,
``fill="toself"`` / ``"tonexty"`` bands), ``bar`` (grouped or overlaid, widths, outlines,
error bars), ``histogram`` and ``table``; subplots by their axis / scene domains, secondary
y axes, subplot titles and other paper annotations, axis titles, ranges, reversed and log
axes.
"""

from __future__ import annotations

import colorsys
import html
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

FORMATS: tuple[str, ...] = ("png", "pdf")
"""Static formats :func:`write_static` can write."""

# margins (pixels) around the plot area into which the plotly paper domains [0, 1] map
_MARGIN_L, _MARGIN_R, _MARGIN_B, _MARGIN_T = 70, 45, 50, 55
_TITLE_LINE = 16  # extra top margin per title line
_CBAR_W = 0.012  # colour bar width (figure fraction)
_CBAR_ROOM = 0.06  # room taken from a panel for its colour bar and its ticks
_SYMBOLS = {
    "circle": "o",
    "diamond": "D",
    "square": "s",
    "x": "x",
    "cross": "P",
    "triangle-up": "^",
    "triangle-down": "v",
    "star": "*",
}
_DASHES = {"dash": "--", "dot": ":", "dashdot": "-."}
_COLORWAY = (
    "#636efa",
    "#EF553B",
    "#00cc96",
    "#ab63fa",
    "#FFA15A",
    "#19d3f3",
    "#FF6692",
    "#B6E880",
    "#FF97FF",
    "#FECB52",
)


def plain_text(text: Any) -> str:
    """Plotly rich text (``<br>``, ``<sup>``, ``<b>``, entities) as plain matplotlib text."""
    if text is None:
        return ""
    s = re.sub(r"<br\s*/?>", "\n", str(text), flags=re.I)
    s = re.sub(r"<[^>]+>", "", s)
    return html.unescape(s).replace("$", r"\$")


def to_rgba(color: Any, opacity: float = 1.0) -> tuple[float, float, float, float] | None:
    """A plotly colour (``#hex``, ``rgb()``, ``rgba()``, ``hsl()``, a CSS name) as RGBA."""
    from matplotlib import colors as mcolors

    if color is None:
        return None
    s = str(color).strip().lower().replace(" ", "")
    m = re.fullmatch(r"(rgba?|hsla?)\(([^)]*)\)", s)
    if m:
        parts = m.group(2).split(",")
        alpha = float(parts[3]) if len(parts) > 3 else 1.0
        if m.group(1).startswith("rgb"):
            r, g, b = (float(p) / 255.0 for p in parts[:3])
        else:
            h = float(parts[0]) / 360.0
            sat, light = (float(p.rstrip("%")) / 100.0 for p in parts[1:3])
            r, g, b = colorsys.hls_to_rgb(h, light, sat)
        return (r, g, b, alpha * opacity)
    r, g, b, a = mcolors.to_rgba(s)
    return (r, g, b, a * opacity)


def colormap(colorscale: Any, reverse: bool = False) -> Any:
    """A matplotlib colormap from a plotly colour scale (name or ``((v, colour), ...)``)."""
    from matplotlib.colors import LinearSegmentedColormap
    from plotly.colors import get_colorscale

    if colorscale is None:
        colorscale = "Plasma"
    if isinstance(colorscale, str):
        colorscale = get_colorscale(colorscale)
    stops = [(float(v), to_rgba(c)) for v, c in colorscale]
    if reverse:
        stops = [(1.0 - v, c) for v, c in reversed(stops)]
    return LinearSegmentedColormap.from_list("plotly", stops)


def _domain(axis: Any) -> tuple[float, float]:
    d = getattr(axis, "domain", None) if axis is not None else None
    return (float(d[0]), float(d[1])) if d is not None else (0.0, 1.0)


def _axis_name(ref: str | None, kind: str) -> str:
    """``"x2"`` -> ``"xaxis2"`` (``None``/``"x"`` -> ``"xaxis"``)."""
    suffix = (ref or kind)[1:]
    return f"{kind}axis{suffix}"


def _edges(values: np.ndarray) -> np.ndarray:
    """Cell edges [n + 1] around n centres."""
    v = np.asarray(values, np.float64)
    if v.size == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = 0.5 * (v[1:] + v[:-1])
    return np.r_[2 * v[0] - mid[0], mid, 2 * v[-1] - mid[-1]]


def _is_numeric(values: Any) -> bool:
    try:
        np.asarray(values, np.float64)
    except (TypeError, ValueError):
        return False
    return True


class _Canvas:
    """One matplotlib figure being drawn from one plotly figure."""

    def __init__(self, fig: go.Figure, width: int, height: int) -> None:
        # a bare Figure (no pyplot): saved through the Agg / PDF canvases, the caller's
        # pyplot backend (a notebook's inline one) is left alone
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        self.locator = MaxNLocator
        self.src = fig
        self.layout = fig.layout
        self.fig = Figure(figsize=(width / 100.0, height / 100.0), dpi=100)
        title = fig.layout.title.text if fig.layout.title is not None else None
        lines = plain_text(title).count("\n") + 1 if title else 0
        self.area = (
            _MARGIN_L / width,
            1.0 - _MARGIN_R / width,
            _MARGIN_B / height,
            1.0 - (_MARGIN_T + _TITLE_LINE * lines) / height,
        )
        self.axes: dict[tuple[str, str], Any] = {}
        self.legend_axes: Any = None
        self.bars: dict[int, tuple[int, int]] = {}  # trace index -> (j, k) in its group
        if fig.layout.barmode == "group":
            series: dict[tuple[Any, Any], list[int]] = {}
            for i, t in enumerate(fig.data):
                if t.type == "bar":
                    series.setdefault((t.xaxis, t.yaxis), []).append(i)
            for idx in series.values():
                self.bars.update({i: (j, len(idx)) for j, i in enumerate(idx)})
        self.prev_xy: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    # ------------------------------------------------------------------ axes
    def _fx(self, x: float) -> float:
        return self.area[0] + x * (self.area[1] - self.area[0])

    def _fy(self, y: float) -> float:
        return self.area[2] + y * (self.area[3] - self.area[2])

    def _rect(self, xd: tuple[float, float], yd: tuple[float, float], room: float) -> list[float]:
        x0, x1 = self._fx(xd[0]), self._fx(xd[1]) - room
        y0, y1 = self._fy(yd[0]), self._fy(yd[1])
        return [x0, y0, max(x1 - x0, 0.02), max(y1 - y0, 0.02)]

    def cartesian(self, xref: str | None, yref: str | None, room: float = 0.0) -> Any:
        """The axes of a trace's (xaxis, yaxis) pair, created on first use."""
        key = (_axis_name(xref, "x"), _axis_name(yref, "y"))
        if key in self.axes:
            return self.axes[key]
        xa, ya = self.layout[key[0]], self.layout[key[1]]
        overlay = getattr(ya, "overlaying", None)
        if overlay:
            base = self.cartesian(xref, overlay, room)
            ax = base.twinx()
        else:
            ax = self.fig.add_axes(self._rect(_domain(xa), _domain(ya), room))
        self._style(ax, xa, "x")
        self._style(ax, ya, "y")
        self.axes[key] = ax
        return ax

    def scene(self, ref: str | None, room: float) -> Any:
        """A matplotlib 3D axes for a plotly scene (axis titles, camera, aspect ratio)."""
        name = "scene" + (ref or "scene")[5:]
        key = (name, name)
        if key in self.axes:
            return self.axes[key]
        sc = self.layout[name]
        d = getattr(sc, "domain", None)
        xd = tuple(d.x) if d is not None and d.x is not None else (0.0, 1.0)
        yd = tuple(d.y) if d is not None and d.y is not None else (0.0, 1.0)
        rect = self._rect(xd, yd, room)
        ax = self.fig.add_axes(rect, projection="3d")
        for axis, set_label in (
            (sc.xaxis, ax.set_xlabel),
            (sc.yaxis, ax.set_ylabel),
            (sc.zaxis, ax.set_zlabel),
        ):
            title = plain_text(axis.title.text if axis is not None and axis.title else None)
            if title:
                set_label(title, fontsize=7, labelpad=2)
        ax.tick_params(labelsize=6, pad=0)
        eye = sc.camera.eye if sc.camera is not None and sc.camera.eye is not None else None
        if eye is not None and eye.x is not None:
            ex, ey, ez = float(eye.x), float(eye.y), float(eye.z)
            ax.view_init(
                elev=float(np.degrees(np.arctan2(ez, np.hypot(ex, ey)))),
                azim=float(np.degrees(np.arctan2(ey, ex))),
            )
        ar = sc.aspectratio
        if ar is not None and ar.x is not None:
            ax.set_box_aspect((float(ar.x), float(ar.y), float(ar.z)), zoom=0.95)
        self.axes[key] = ax
        return ax

    @staticmethod
    def _style(ax: Any, axis: Any, which: str) -> None:
        ax.tick_params(labelsize=7)
        if axis is None:
            return
        title = plain_text(axis.title.text if axis.title is not None else None)
        set_label = ax.set_xlabel if which == "x" else ax.set_ylabel
        if title:
            set_label(title, fontsize=8)
        if getattr(axis, "type", None) == "log":
            (ax.set_xscale if which == "x" else ax.set_yscale)("log")
        if getattr(axis, "showticklabels", None) is False:
            (ax.set_xticklabels if which == "x" else ax.set_yticklabels)([])
            ax.tick_params(axis=which, length=0)
        if getattr(axis, "side", None) == "right" and which == "y":
            ax.yaxis.tick_right()
            ax.yaxis.set_label_position("right")

    def finish_axes(self) -> None:
        """Ranges and orientation, applied after the data so autoscaling does not undo them."""
        for (xn, yn), ax in self.axes.items():
            if xn.startswith("scene"):
                continue
            for name, which in ((xn, "x"), (yn, "y")):
                axis = self.layout[name]
                rng = getattr(axis, "range", None)
                if rng is not None and axis.type != "log":
                    (ax.set_xlim if which == "x" else ax.set_ylim)(*rng)
                if getattr(axis, "rangemode", None) == "tozero" and which == "y":
                    lo, hi = ax.get_ylim()
                    ax.set_ylim(min(0.0, lo), hi)
                if getattr(axis, "autorange", None) == "reversed":
                    (ax.invert_xaxis if which == "x" else ax.invert_yaxis)()

    # ---------------------------------------------------------------- traces
    def colorbar(self, mappable: Any, ax: Any, trace: Any) -> None:
        """A colour bar right of ``ax`` with the trace's colour-bar title."""
        pos = ax.get_position(original=True)
        cax = self.fig.add_axes([pos.x1 + 0.008, pos.y0, _CBAR_W, pos.height])
        cb = self.fig.colorbar(mappable, cax=cax)
        cb.ax.tick_params(labelsize=7)
        bar = trace.colorbar
        title = plain_text(bar.title.text if bar is not None and bar.title is not None else None)
        if not title and trace.type == "surface":
            title = plain_text(self._scene_z_title(trace))
        if title:
            cb.set_label(title, fontsize=8)

    def _scene_z_title(self, trace: Any) -> str | None:
        sc = self.layout["scene" + (trace.scene or "scene")[5:]]
        return sc.zaxis.title.text if sc.zaxis is not None and sc.zaxis.title else None

    def heatmap(self, trace: Any, i: int) -> None:
        z = np.asarray(trace.z, np.float64)
        if z.ndim != 2:
            return
        show = trace.showscale is not False
        room = _CBAR_ROOM if show else 0.0
        if trace.type == "surface":  # colour bar below the panel: the z axis keeps its side
            self.surface(trace, z, show)
            return
        ax = self.cartesian(trace.xaxis, trace.yaxis, room)
        lo, hi = trace.zmin, trace.zmax
        cmap = colormap(trace.colorscale, bool(trace.reversescale))
        xs, ys = trace.x, trace.y
        xcat = xs is not None and not _is_numeric(xs)
        ycat = ys is not None and not _is_numeric(ys)
        xv = np.arange(z.shape[1]) if xs is None or xcat else np.asarray(xs, np.float64)
        yv = np.arange(z.shape[0]) if ys is None or ycat else np.asarray(ys, np.float64)
        mesh = ax.pcolormesh(
            _edges(xv),
            _edges(yv),
            np.ma.masked_invalid(z),
            cmap=cmap,
            vmin=lo,
            vmax=hi,
            shading="flat",
            rasterized=z.size > 20_000,  # small maps stay vector in the PDF
        )
        if xcat:
            ax.set_xticks(xv, [plain_text(v) for v in xs])
        if ycat:
            ax.set_yticks(yv, [plain_text(v) for v in ys])
        for values, cat, axis in ((xs, xcat, ax.xaxis), (ys, ycat, ax.yaxis)):
            if not cat and (values is None or np.allclose(np.asarray(values) % 1, 0)):
                axis.set_major_locator(self.locator(nbins=6, integer=True))  # pads / time bins
        if trace.text is not None and trace.texttemplate:
            size = trace.textfont.size if trace.textfont and trace.textfont.size else 10
            norm = mesh.norm
            for r, row in enumerate(trace.text):
                for c, txt in enumerate(row):
                    dark = np.mean(cmap(norm(z[r, c]))[:3]) < 0.5
                    ax.text(
                        xv[c],
                        yv[r],
                        plain_text(txt),
                        ha="center",
                        va="center",
                        fontsize=0.6 * size,
                        color="white" if dark else "black",
                    )
        if show:
            self.colorbar(mesh, ax, trace)

    def surface(self, trace: Any, z: np.ndarray, show: bool) -> None:
        """A ``go.Surface`` as a matplotlib 3D surface, coloured by z on the trace's scale.

        Its colour bar lies horizontally below the panel, so the z axis, its ticks and its
        title (on the right of the box) stay clear of it.
        """
        ax = self.scene(trace.scene, 0.0)
        cmap = colormap(trace.colorscale, bool(trace.reversescale))
        xv = np.arange(z.shape[1]) if trace.x is None else np.asarray(trace.x, np.float64)
        yv = np.arange(z.shape[0]) if trace.y is None else np.asarray(trace.y, np.float64)
        gx, gy = np.meshgrid(xv, yv)
        surf = ax.plot_surface(
            gx,
            gy,
            np.ma.masked_invalid(z),
            cmap=cmap,
            vmin=trace.cmin,
            vmax=trace.cmax,
            rstride=1,
            cstride=1,
            linewidth=0,
            antialiased=False,
            shade=False,
        )
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(self.locator(nbins=5, integer=True))
        ax.zaxis.set_major_locator(self.locator(nbins=5))
        if show:
            pos = ax.get_position(original=True)
            ax.set_position([pos.x0, pos.y0 + 0.12, pos.width, pos.height - 0.12])
            cax = self.fig.add_axes(
                [pos.x0 + 0.15 * pos.width, pos.y0 + 0.05, 0.7 * pos.width, 0.025]
            )
            cb = self.fig.colorbar(surf, cax=cax, orientation="horizontal")
            cb.ax.tick_params(labelsize=7)
            title = plain_text(self._scene_z_title(trace))
            bar = trace.colorbar
            if bar is not None and bar.title is not None and bar.title.text:
                title = plain_text(bar.title.text)
            if title:
                cb.set_label(title, fontsize=8)

    def _errors(self, err: Any, n: int) -> np.ndarray | None:
        if err is None or err.visible is False or err.array is None:
            return None
        plus = np.asarray(err.array, np.float64).reshape(-1)
        minus = plus if err.arrayminus is None else np.asarray(err.arrayminus, np.float64)
        if plus.size != n:
            return None
        return np.vstack([np.maximum(minus, 0.0), np.maximum(plus, 0.0)])

    def _color(self, trace: Any, i: int) -> tuple[float, float, float, float]:
        for c in (
            trace.marker.color if getattr(trace, "marker", None) is not None else None,
            trace.line.color if getattr(trace, "line", None) is not None else None,
        ):
            if isinstance(c, str):
                return to_rgba(c)  # type: ignore[return-value]
        return to_rgba(_COLORWAY[i % len(_COLORWAY)])  # type: ignore[return-value]

    def _label(self, trace: Any) -> str | None:
        if trace.showlegend is False or not trace.name:
            return None
        return plain_text(trace.name)

    def scatter(self, trace: Any, i: int) -> None:
        if trace.x is None or trace.y is None:
            return
        ax = self.cartesian(trace.xaxis, trace.yaxis)
        x = np.asarray(trace.x, np.float64)
        y = np.asarray(trace.y, np.float64)
        op = 1.0 if trace.opacity is None else float(trace.opacity)
        color = self._color(trace, i)
        mode = trace.mode or ("lines+markers" if x.size < 20 else "lines")
        label = self._label(trace)
        if trace.fill == "toself":
            fc = to_rgba(trace.fillcolor, op) if trace.fillcolor else (*color[:3], 0.25)
            ax.fill(x, y, color=fc, lw=0, label=label)
            self._legend(ax, label)
            if mode == "none" or (trace.line is not None and trace.line.width == 0):
                return
            label = None
        if trace.fill in ("tonexty", "tozeroy"):
            base = self.prev_xy.get(id(ax), (x, np.zeros_like(y)))[1]
            if trace.fill == "tozeroy":
                base = np.zeros_like(y)
            fc = to_rgba(trace.fillcolor, op) if trace.fillcolor else (*color[:3], 0.25)
            if base.shape == y.shape:
                ax.fill_between(x, base, y, color=fc, lw=0, label=label)
            if mode == "none" or (trace.line is not None and trace.line.width == 0):
                self.prev_xy[id(ax)] = (x, y)
                self._legend(ax, label)
                return
            label = None
        self.prev_xy[id(ax)] = (x, y)
        ls = "-" if "lines" in mode else "none"
        if trace.line is not None and trace.line.dash:
            ls = _DASHES.get(trace.line.dash, "-") if "lines" in mode else "none"
        lw = trace.line.width if trace.line is not None and trace.line.width is not None else 1.5
        marker = None
        ms = 4.0
        mec = None
        if "markers" in mode:
            m = trace.marker
            marker = _SYMBOLS.get(str(m.symbol), "o") if m.symbol else "o"
            ms = 0.5 * float(m.size) if m.size is not None and np.isscalar(m.size) else 4.0
            if m.line is not None and isinstance(m.line.color, str):
                mec = to_rgba(m.line.color)
        ex = self._errors(trace.error_x, x.size)
        ey = self._errors(trace.error_y, y.size)
        c = (*color[:3], color[3] * op)
        if ex is not None or ey is not None:
            ax.errorbar(
                x,
                y,
                xerr=ex,
                yerr=ey,
                fmt="none",
                ecolor=c,
                elinewidth=1.0,
                capsize=0,
            )
        ax.plot(
            x,
            y,
            linestyle=ls,
            linewidth=lw,
            marker=marker,
            markersize=ms,
            color=c,
            markeredgecolor=mec,
            label=label,
        )
        self._legend(ax, label)

    def bar(self, trace: Any, i: int) -> None:
        ax = self.cartesian(trace.xaxis, trace.yaxis)
        if trace.x is None or trace.y is None:
            return
        y = np.array([np.nan if v is None else v for v in trace.y], np.float64)
        xs = list(trace.x)
        if _is_numeric(xs):
            x = np.asarray(xs, np.float64)
            cats = None
        else:
            cats = [plain_text(v) for v in xs]
            x = np.arange(len(xs), dtype=np.float64)
        width = trace.width
        if width is None:
            width = 0.8 if x.size < 2 else 0.8 * float(np.min(np.diff(np.sort(x))))
        group = self.bars.get(i)
        if group is not None:  # barmode "group": the j-th of k bar series per axes
            j, k = group
            width = width / k
            x = x + (j - 0.5 * (k - 1)) * width
        op = 1.0 if trace.opacity is None else float(trace.opacity)
        color = self._color(trace, i)
        c = (*color[:3], color[3] * op)
        ec = None
        if trace.marker is not None and trace.marker.line is not None:
            ec = to_rgba(trace.marker.line.color) if trace.marker.line.color else None
        label = self._label(trace)
        ey = self._errors(trace.error_y, y.size)
        ax.bar(x, y, width=width, color=c, edgecolor=ec, linewidth=0.6 if ec else 0, label=label)
        if ey is not None:
            ax.errorbar(x, y, yerr=ey, fmt="none", ecolor="black", elinewidth=1.0, capsize=2)
        if cats is not None:
            ax.set_xticks(np.arange(len(cats)), cats, fontsize=7)
        self._legend(ax, label)

    def histogram(self, trace: Any, i: int) -> None:
        ax = self.cartesian(trace.xaxis, trace.yaxis)
        x = np.asarray(trace.x if trace.x is not None else (), np.float64)
        bins: Any = trace.nbinsx or 30
        xb = trace.xbins
        if xb is not None and xb.start is not None and xb.end is not None and xb.size:
            bins = np.arange(float(xb.start), float(xb.end) + 0.5 * float(xb.size), float(xb.size))
        density = trace.histnorm in ("probability density", "density")
        color = self._color(trace, i)
        label = self._label(trace)
        ax.hist(
            x,
            bins=bins,
            density=density,
            color=color,
            edgecolor="black",
            linewidth=0.5,
            label=label,
            alpha=1.0 if trace.opacity is None else float(trace.opacity),
        )
        self._legend(ax, label)

    def table(self, trace: Any, i: int) -> None:
        d = trace.domain
        xd = tuple(d.x) if d is not None and d.x is not None else (0.0, 1.0)
        yd = tuple(d.y) if d is not None and d.y is not None else (0.0, 1.0)
        ax = self.fig.add_axes(self._rect(xd, yd, 0.0))
        ax.axis("off")
        header = [plain_text(v) for v in (trace.header.values or ())]
        cols = [list(c) for c in (trace.cells.values or ())]
        rows = [[plain_text(c[r]) for c in cols] for r in range(max(map(len, cols), default=0))]
        tab = ax.table(cellText=rows or None, colLabels=header or None, loc="upper center")
        tab.auto_set_font_size(False)
        tab.set_fontsize(7)

    def _legend(self, ax: Any, label: str | None) -> None:
        if label and self.legend_axes is None:
            self.legend_axes = ax

    # --------------------------------------------------------------- overall
    def draw(self) -> Any:
        handlers = {
            "heatmap": self.heatmap,
            "surface": self.heatmap,
            "scatter": self.scatter,
            "scattergl": self.scatter,
            "bar": self.bar,
            "histogram": self.histogram,
            "table": self.table,
        }
        for i, trace in enumerate(self.src.data):
            if trace.visible is False or trace.visible == "legendonly":
                continue
            handler = handlers.get(trace.type)
            if handler is None:
                raise ValueError(f"static rendering of {trace.type!r} traces is not supported")
            handler(trace, i)
        self.finish_axes()
        self._annotations()
        title = self.layout.title.text if self.layout.title is not None else None
        if title:
            self.fig.suptitle(plain_text(title), fontsize=10, y=0.985, va="top")
        if self.legend_axes is not None and self.layout.showlegend is not False:
            self._draw_legend()
        return self.fig

    def _draw_legend(self) -> None:
        handles, labels, seen = [], [], set()
        for ax in {id(a): a for a in self.axes.values()}.values():
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                if lab not in seen and not lab.startswith("_"):
                    seen.add(lab)
                    handles.append(h)
                    labels.append(lab)
        if handles:
            self.legend_axes.legend(handles, labels, fontsize=6.5, loc="best", framealpha=0.8)

    def _annotations(self) -> None:
        for a in self.layout.annotations or ():
            if a.xref not in (None, "paper") or a.yref not in (None, "paper"):
                continue
            ha = {"left": "left", "right": "right"}.get(a.xanchor, "center")
            va = {"bottom": "bottom", "top": "top"}.get(a.yanchor, "center")
            size = a.font.size if a.font is not None and a.font.size else 12
            self.fig.text(
                self._fx(float(a.x)),
                self._fy(float(a.y)) + (0.004 if va == "bottom" else 0.0),
                plain_text(a.text),
                ha=ha,
                va=va,
                fontsize=0.7 * size,
            )


def render(fig: go.Figure, width: int = 900, height: int = 650) -> Any:
    """Draws a plotly figure with matplotlib.

    Args:
        fig: The plotly figure (its traces and layout are read, not changed).
        width: Width in CSS pixels (100 px = 1 inch).
        height: Height in CSS pixels.

    Returns:
        A ``matplotlib.figure.Figure`` (not attached to pyplot: nothing global is kept).

    Raises:
        ValueError: A trace type this renderer does not draw.
    """
    return _Canvas(fig, width, height).draw()


def _typed_arrays(obj: Any) -> Any:
    """``obj`` with every plotly.js typed-array spec (``{"dtype", "bdata"[, "shape"]}``, what
    ``go.Figure.to_dict()`` makes of numpy arrays) decoded back into a numpy array."""
    if isinstance(obj, dict):
        if "bdata" in obj and "dtype" in obj:
            import base64

            dtype = np.dtype(str(obj["dtype"]).rstrip("c"))  # "u1c": clamped uint8
            a = np.frombuffer(base64.b64decode(obj["bdata"]), dtype)
            shape = obj.get("shape")
            return a.reshape([int(v) for v in str(shape).split(",")]) if shape else a
        return {k: _typed_arrays(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_typed_arrays(v) for v in obj)
    return obj


def write_static_dict(
    fig: dict[str, Any], paths: Iterable[str | Path], width: int, height: int, dpi: int
) -> list[Path]:
    """:func:`write_static` of a figure given as its ``go.Figure.to_dict()`` (a worker job:
    rebuilding the figure costs ~30 ms, drawing it ~1 s)."""
    figure = go.Figure(_typed_arrays(fig))
    return write_static(figure, [Path(p) for p in paths], width, height, dpi)


def write_static(
    fig: go.Figure, paths: Iterable[Path], width: int = 900, height: int = 650, dpi: int = 150
) -> list[Path]:
    """Renders ``fig`` once and saves it to each path (format from the suffix: .png, .pdf).

    Each file is written atomically. ``dpi`` sets the PNG pixel density (150 dpi: a
    900 x 650 px figure becomes 1350 x 975 pixels); PDF is vector (heatmaps rasterised).
    Saving is deterministic (no creation date in the PDF, no software tag in the PNG).

    Returns:
        The paths written.
    """
    from interp.core.fsutil import atomic_path

    mfig = render(fig, width, height)
    out = []
    for path in paths:
        path = Path(path)
        fmt = path.suffix.lstrip(".").lower()
        if fmt not in FORMATS:
            raise ValueError(f"{path}: static format must be one of {FORMATS}")
        meta = {"CreationDate": None} if fmt == "pdf" else {"Software": None}
        with atomic_path(path) as tmp:
            mfig.savefig(tmp, format=fmt, dpi=dpi, metadata=meta)
        out.append(path)
    return out
