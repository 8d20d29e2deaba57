"""One look for every figure of the book, and the log-log plot with a fitted slope."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from .stats import PowerLawFit, power_law_fit

__all__ = ["PALETTE", "set_theme", "loglog", "figure"]

PALETTE = "colorblind"


def set_theme() -> None:
    """Apply the book's seaborn theme (white grid, colour-blind palette, readable sizes)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE,
                  rc={"figure.figsize": (6.4, 4.0), "figure.dpi": 100, "savefig.dpi": 150,
                      "axes.titlesize": "medium", "legend.frameon": False})


def loglog(ax, x, y, *, label: str | None = None, fit: bool = True, marker: str = "o",
           color=None, fit_style: str = "--", points: bool = True) -> PowerLawFit | None:
    """Plot ``y`` against ``x`` on log-log axes; with ``fit=True`` overlay and return the
    least-squares power law ``y ≈ C x^slope`` (the slope is shown in the legend).
    ``points=False`` draws only the fitted line (when the points are drawn elsewhere)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if points:
        line, = ax.plot(x, y, marker=marker, linestyle="none" if fit else "-", color=color,
                        label=label)
        color = line.get_color()
    result = None
    if fit:
        result = power_law_fit(x, y)
        grid = np.geomspace(x.min(), x.max(), 50)
        name = f"{label}: " if label else ""
        ax.plot(grid, result(grid), fit_style, color=color,
                label=f"{name}slope {result.slope:.2f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    return result


def figure(ncols: int = 1, nrows: int = 1, *, width: float = 6.4, height: float = 4.0, **kw):
    """``plt.subplots`` sized for the book's page width (``width`` per column, ``height`` per row)."""
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                        constrained_layout=True, **kw)
