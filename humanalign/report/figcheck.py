"""Layout checks run on every saved figure: text that overprints other text, and figures too wide for a page.

:func:`text_overlaps` draws the figure once and compares the rendered bounding boxes of every piece
of text (tick labels inside the view, axis labels, titles, legend entries, annotations), so
overprinting tick labels or point labels are caught where they are made.
:func:`humanalign.report.style.save_figure` calls it for every figure and logs what it finds; the
report builder records the findings in ``figure_checks.json`` for the browser test.

Example:
    >>> problems = text_overlaps(fig)   # [] when no two texts overlap
"""

from __future__ import annotations

import logging
from itertools import combinations

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

__all__ = ["text_overlaps", "MAX_WIDTH_IN", "too_wide"]

logger = logging.getLogger(__name__)

#: Widest figure a two-column paper page (and the report column) takes, in inches.
MAX_WIDTH_IN = 7.2


def _tick_texts(ax: Axes) -> list[Text]:
    out = []
    for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        lo, hi = min(lo, hi), max(lo, hi)
        span = (hi - lo) * 1e-6
        for tick, loc in zip(axis.get_major_ticks(), axis.get_majorticklocs(), strict=False):
            if lo - span <= loc <= hi + span:
                out.extend(t for t in (tick.label1, tick.label2) if t.get_visible())
    return out


def _axes_texts(ax: Axes) -> list[tuple[str, Text]]:
    texts: list[tuple[str, Text]] = [("tick", t) for t in _tick_texts(ax)]
    texts += [("label", ax.xaxis.label), ("label", ax.yaxis.label), ("title", ax.title)]
    texts += [("title", t) for t in (ax._left_title, ax._right_title)]  # noqa: SLF001 (no public accessor)
    texts += [("text", t) for t in ax.texts]
    legend = ax.get_legend()
    if legend is not None:
        texts += [("legend", t) for t in legend.get_texts()]
    for child in getattr(ax, "child_axes", []):
        texts += _axes_texts(child)
    return texts


def text_overlaps(fig: Figure, tolerance_px: float = 1.0) -> list[str]:
    """Pairs of visible, non-empty texts of ``fig`` whose rendered boxes overlap.

    Args:
        fig: The figure (drawn here once).
        tolerance_px: Overlaps narrower or lower than this many pixels are ignored.

    Returns:
        One message per overlapping pair, naming both texts; empty when the layout is clean.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    items: list[tuple[str, str, Bbox]] = []
    for k, ax in enumerate(fig.axes):
        for kind, text in _axes_texts(ax):
            if not text.get_visible() or not text.get_text().strip():
                continue
            box = text.get_window_extent(renderer)
            if box.width > 0 and box.height > 0:
                items.append((f"axes {k} {kind}", text.get_text(), box))
    for text in fig.texts:
        if text.get_visible() and text.get_text().strip():
            items.append(("figure text", text.get_text(), text.get_window_extent(renderer)))
    problems = []
    seen: set[tuple[str, str]] = set()
    for (kind_a, a, box_a), (kind_b, b, box_b) in combinations(items, 2):
        w = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        h = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        if w > tolerance_px and h > tolerance_px and (a, b) not in seen:
            seen.add((a, b))
            problems.append(f"{kind_a} {a!r} overlaps {kind_b} {b!r}")
    return problems


def too_wide(fig: Figure, max_width_in: float = MAX_WIDTH_IN) -> str | None:
    """A message when the figure is wider than ``max_width_in`` inches, else None."""
    width = fig.get_size_inches()[0]
    return f"figure is {width:.1f} in wide (max {max_width_in} in)" if width > max_width_in + 1e-6 else None
