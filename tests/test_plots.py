"""lib.plots.glue_figure refuses a figure whose axis cannot be read (fewer than two tick labels)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lib.plots  # noqa: E402


def test_glue_figure_refuses_an_axis_with_one_tick_label():
    fig, ax = lib.plots.figure(width=3.0, height=2.0)
    ax.plot([1.0, 2.0], [2.0, 3.0])
    ax.set_yscale("log")
    ax.set_ylim(2.0, 3.0)  # inside one decade: no major label
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_yticks([2.5], ["2.5"])  # a single label
    with pytest.raises(ValueError, match=r"'one-label'.*the y axis of panel 1.*1 tick label"):
        lib.plots.glue_figure("one-label", fig)


def test_glue_figure_refuses_an_axis_with_no_tick_label():
    fig, ax = lib.plots.figure(width=3.0, height=2.0)
    ax.plot([0.0, 1.0], [0.0, 1.0])
    ax.xaxis.set_major_formatter(matplotlib.ticker.NullFormatter())
    with pytest.raises(ValueError, match=r"'no-label'.*the x axis"):
        lib.plots.glue_figure("no-label", fig)


def test_glue_figure_accepts_readable_axes_and_panels_without_labels_by_design():
    fig, axes = lib.plots.figure(ncols=3, width=6.0, height=2.0)
    x = np.linspace(1.0, 100.0, 50)
    axes[0].loglog(x, x**-1.0)  # several decades
    axes[1].plot(x, x)
    axes[1].tick_params(labelleft=False)  # as an inner panel of shared axes: y labels switched off
    axes[2].imshow(np.eye(4))
    axes[2].set_xticks([])
    axes[2].set_yticks([])  # an image panel without ticks
    lib.plots.glue_figure("readable", fig)  # does not raise


def test_minor_labels_of_a_log_axis_count():
    fig, ax = lib.plots.figure(width=3.0, height=2.0)
    ax.semilogy([0.0, 1.0], [0.4, 0.9])  # one decade boundary at most: minor labels carry the scale
    lib.plots.glue_figure("minor-labels", fig)
