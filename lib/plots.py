"""One figure style for the whole book.

Every chapter draws with :func:`figure`, so fonts, sizes, colours and grids match from page to
page, and axis labels stay readable at the book's page width (about 7 inches).  Figures shown in a
notebook (and glued into the HTML) are PNGs at twice the pixel density of their displayed size
("retina"), so they stay sharp on high-density screens.
"""

from __future__ import annotations

from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from lib import _validate as check

__all__ = [
    "PAGE_WIDTH",
    "COLORS",
    "STYLE",
    "use_style",
    "figure",
    "fit_loglog_slope",
    "glue_figure",
    "MAX_PANELS",
    "MAX_INCHES",
]

MAX_PANELS = 100  # a grid larger than this is a mistake, not a figure
MAX_INCHES = 100.0
PAGE_WIDTH = 7.0  # inches: the body width of the HTML page at the default zoom
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f")

STYLE: dict[str, Any] = {
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10,
    "legend.fontsize": 8.5,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=COLORS),
    "lines.linewidth": 1.6,
    "lines.markersize": 4.5,
    "figure.constrained_layout.use": True,
}


def use_style() -> None:
    """Apply the book's matplotlib style globally (idempotent).

    Inside IPython (a notebook, the book's build) inline figures also become "retina" PNGs: rendered
    at ``2 × figure.dpi`` and declared at half that width, so a 7-inch figure is about 1540 pixels
    shown about 770 pixels wide (or less, as the page allows).
    """
    mpl.rcParams.update(STYLE)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the book, not of lib
        return
    if get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")


def figure(ncols: int = 1, nrows: int = 1, *, height: float = 3.2, width: float = PAGE_WIDTH, **kwargs: Any):
    """A new figure in the book's style with an ``nrows × ncols`` grid of axes.

    Returns
    -------
    (matplotlib.figure.Figure, numpy.ndarray or matplotlib.axes.Axes)
        As :func:`matplotlib.pyplot.subplots`.
    """
    ncols = check.integer(ncols, "ncols", minimum=1, maximum=MAX_PANELS)
    nrows = check.integer(nrows, "nrows", minimum=1, maximum=MAX_PANELS)
    height = check.real(height, "height", minimum=0.0, maximum=MAX_INCHES, strict_min=True)
    width = check.real(width, "width", minimum=0.0, maximum=MAX_INCHES, strict_min=True)
    use_style()
    return plt.subplots(nrows, ncols, figsize=(width, height * nrows), **kwargs)


def fit_loglog_slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    r"""Least-squares fit of :math:`\log y = a + b \log x`; returns ``(b, a)`` (slope, intercept)."""
    x = check.real_array(x, "x", ndim=1, minimum=0.0, strict_min=True)
    y = check.real_array(y, "y", ndim=1, minimum=0.0, strict_min=True)
    if x.size < 2 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-d arrays of equal length >= 2, got {x.shape} and {y.shape}")
    if np.ptp(x) == 0:
        raise ValueError("x must hold at least two different values for a slope")
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope), float(intercept)


MIN_TICK_LABELS = 2  # an axis with fewer tick labels than this cannot be read off


def _shown_tick_labels(axis) -> list[str] | None:
    """The tick labels ``axis`` shows inside its view (major and minor), after a draw.

    ``None`` when the axis shows no tick labels by design: hidden, no ticks in view (an image
    panel), or labels switched off (the inner panels of shared axes).
    """
    if not axis.get_visible():
        return None
    transform = axis.get_transform()
    lo, hi = sorted(transform.transform(np.asarray(axis.get_view_interval(), dtype=float)))
    tol = 1e-9 * max(hi - lo, 1e-300)
    ticked, labelled, texts = False, False, []
    for ticks, locs in ((axis.get_major_ticks, axis.get_majorticklocs()), (axis.get_minor_ticks, axis.get_minorticklocs())):
        locs = np.asarray(locs, dtype=float)
        if locs.size == 0:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = transform.transform(locs)
        for tick, where in zip(ticks(len(locs)), scaled):
            if not (np.isfinite(where) and lo - tol <= where <= hi + tol):
                continue
            ticked = True
            for label in (tick.label1, tick.label2):
                if label.get_visible():
                    labelled = True
                    if label.get_text().strip():
                        texts.append(label.get_text())
    return texts if ticked and labelled else None


def _check_tick_labels(name: str, fig: Figure) -> None:
    """Raise :class:`ValueError` if an axis of ``fig`` shows fewer than :data:`MIN_TICK_LABELS` tick labels.

    A scale with one label (a log axis inside one decade, a line through two points) or none
    cannot be read; axes that show no labels by design (switched off, no ticks) pass.  The
    figure is drawn once to fix its tick labels.
    """
    check.text(name, "name")
    check.of_type(fig, "fig", Figure)
    fig.canvas.draw()
    for number, ax in enumerate(fig.axes, start=1):
        if not ax.get_visible() or not ax.axison:
            continue
        for letter, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            texts = _shown_tick_labels(axis)
            if texts is not None and len(texts) < MIN_TICK_LABELS:
                what = ax.get_title() or axis.get_label_text() or "untitled"
                raise ValueError(f"figure {name!r}: the {letter} axis of panel {number} ({what!r}) shows "
                                 f"{len(texts)} tick label(s) {texts}; a reader needs at least {MIN_TICK_LABELS} "
                                 "to read its scale")


def glue_figure(name: str, fig: Figure) -> None:
    """Glue ``fig`` under ``name`` for a ``{glue:figure}`` directive and close it.

    Refuses (:class:`ValueError`) a figure with an axis that shows
    fewer than two tick labels.  Closing matters: the inline backend would otherwise also show the
    figure under the cell, so it would appear twice on the page.
    """
    from myst_nb import glue

    check.text(name, "name")
    check.of_type(fig, "fig", Figure)
    try:
        _check_tick_labels(name, fig)
    except ValueError:
        plt.close(fig)
        raise
    glue(name, fig, display=False)
    plt.close(fig)
