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
import math
from itertools import combinations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

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


def _polygon(text: Text, renderer: object) -> np.ndarray:
    """Corners [4, 2] (pixels) of the text's own rotated box, not its axis-aligned hull."""
    box = text.get_window_extent(renderer)
    angle = math.radians(text.get_rotation() % 180)
    if abs(math.sin(angle)) < 1e-3 or abs(math.cos(angle)) < 1e-3:
        return np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1], [box.x0, box.y1]])
    # The hull of a w x h box rotated by a: W = w|cos| + h|sin|, H = w|sin| + h|cos|; solve for w, h.
    c, s = abs(math.cos(angle)), abs(math.sin(angle))
    det = c * c - s * s
    if abs(det) < 1e-6:  # 45 degrees: w and h are not identifiable from the hull; use the text height
        _, h, _ = renderer.get_text_width_height_descent("Ag", text.get_fontproperties(), ismath=False)
        w = (box.width - h * s) / c
    else:
        w = (box.width * c - box.height * s) / det
        h = (box.height * c - box.width * s) / det
    w, h = max(w, 0.0), max(h, 0.0)
    centre = np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])
    a = math.radians(text.get_rotation())
    u, v = np.array([math.cos(a), math.sin(a)]) * w / 2, np.array([-math.sin(a), math.cos(a)]) * h / 2
    return np.array([centre - u - v, centre + u - v, centre + u + v, centre - u + v])


def _overlap(p: np.ndarray, q: np.ndarray, tolerance: float) -> bool:
    """Separating-axis test of two convex quadrilaterals, ignoring overlaps thinner than ``tolerance``."""
    for poly in (p, q):
        for i in range(4):
            edge = poly[(i + 1) % 4] - poly[i]
            axis = np.array([-edge[1], edge[0]])
            norm = np.linalg.norm(axis)
            if norm == 0:
                continue
            axis /= norm
            pa, qa = p @ axis, q @ axis
            if min(pa.max(), qa.max()) - max(pa.min(), qa.min()) <= tolerance:
                return False
    return True


def text_overlaps(fig: Figure, tolerance_px: float = 1.0) -> list[str]:
    """Pairs of visible, non-empty texts of ``fig`` whose rendered (rotated) boxes overlap.

    Args:
        fig: The figure (drawn here once).
        tolerance_px: Overlaps thinner than this many pixels are ignored.

    Returns:
        One message per overlapping pair, naming both texts; empty when the layout is clean.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    # (kind, text, corners, group): a legend's frame (its markers included) is one more item; a legend's own
    # entries share its group and are not compared with its frame.
    items: list[tuple[str, str, np.ndarray, str]] = []
    legends = [(f"axes {k}", ax.get_legend()) for k, ax in enumerate(fig.axes)] + [("figure", g) for g in fig.legends]
    in_legend = {id(t): f"{where} legend" for where, leg in legends if leg is not None for t in leg.get_texts()}
    for where, leg in legends:
        if leg is not None and leg.get_visible():
            box = leg.get_window_extent(renderer)
            corners = np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1], [box.x0, box.y1]])
            items.append((f"{where} legend", "(legend frame)", corners, f"{where} legend"))
    for k, ax in enumerate(fig.axes):
        for kind, text in _axes_texts(ax):
            if not text.get_visible() or not text.get_text().strip():
                continue
            box = text.get_window_extent(renderer)
            if box.width > 0 and box.height > 0:
                items.append((f"axes {k} {kind}", text.get_text(), _polygon(text, renderer), in_legend.get(id(text), "")))
    for text in [*fig.texts, *(t for _, g in legends if _ == "figure" for t in g.get_texts())]:
        if text.get_visible() and text.get_text().strip():
            items.append(("figure text", text.get_text(), _polygon(text, renderer), in_legend.get(id(text), "")))
    problems = []
    seen: set[tuple[str, str]] = set()
    for (kind_a, a, poly_a, group_a), (kind_b, b, poly_b, group_b) in combinations(items, 2):
        if group_a and group_a == group_b:
            continue
        if (a, b) not in seen and _overlap(poly_a, poly_b, tolerance_px):
            seen.add((a, b))
            problems.append(f"{kind_a} {a!r} overlaps {kind_b} {b!r}")
    return problems


def too_wide(fig: Figure, max_width_in: float = MAX_WIDTH_IN) -> str | None:
    """A message when the figure is wider than ``max_width_in`` inches, else None."""
    width = fig.get_size_inches()[0]
    return f"figure is {width:.1f} in wide (max {max_width_in} in)" if width > max_width_in + 1e-6 else None
