"""One plotting style for every figure: readable fonts, colour-blind-safe colours, vector output.

Colours come from Paul Tol's "bright" and "muted" qualitative schemes, which stay distinguishable
under the common forms of colour blindness. A model keeps the same colour in every figure: known
family names map to fixed colours, humans are always black, and other names get a colour picked by
a stable hash of the name, moved to the next free colour if another model of the same report holds it.

Example:
    >>> apply_style()
    >>> fig, ax = plt.subplots()
    >>> ax.plot(x, y, color=model_color("vit_b16_video"))
    >>> save_figure(fig, out / "scaling")   # writes scaling.pdf and scaling.png
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PALETTE", "HUMAN_COLOR", "FIGURE_PROBLEMS", "apply_style", "styled_axes", "model_color", "model_marker",
    "save_figure", "require_columns", "reserve_colors", "reserved_colors", "ONE_COLUMN_IN", "TWO_COLUMN_IN",
]

logger = logging.getLogger(__name__)

# Paul Tol "bright" (without its grey) followed by the "muted" colours that stay distinct from them;
# all colour-blind safe.
PALETTE: tuple[str, ...] = (
    "#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377",
    "#332288", "#44AA99", "#999933", "#882255",
)  # fmt: skip
HUMAN_COLOR = "#000000"
#: Figure widths (inches) of one column and of the full text width of a two-column paper.
ONE_COLUMN_IN = 3.5
TWO_COLUMN_IN = 7.0

# Fixed colours for the study's main contrasts: video models blue, image models red, published green.
_FIXED: dict[str, str] = {
    "human": HUMAN_COLOR,
    "humans": HUMAN_COLOR,
    "video": PALETTE[0],
    "image": PALETTE[1],
    "published": PALETTE[2],
    "hvm1": PALETTE[2],
}

_STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.6,
    "lines.markersize": 5,
    "pdf.fonttype": 42,  # embed TrueType so text stays editable in vector editors
    "ps.fonttype": 42,
    "svg.fonttype": "none",
}


def apply_style() -> None:
    """Set the project's matplotlib rcParams (fonts, grid, palette, embedded fonts)."""
    plt.rcParams.update(_STYLE)
    plt.rcParams["axes.prop_cycle"] = matplotlib.cycler(color=list(PALETTE))


def styled_axes(ax: Axes | None, size: tuple[float, float] = (5.0, 3.4)) -> Axes:
    """``ax`` itself, or a new Axes of figure size ``size`` (inches) in the project style."""
    if ax is not None:
        return ax
    apply_style()
    _, ax = plt.subplots(figsize=size)
    return ax


def _family(name: str) -> str | None:
    """The fixed-colour key a model name belongs to, if any (``*_video`` -> video, ...)."""
    low = name.lower()
    if low in _FIXED:
        return low
    if low.startswith("human") or low.startswith("subject"):
        return "human"
    return None


_ASSIGNED: dict[str, str] = {}


def model_color(name: str) -> str:
    """Colour of a model (or ``"human"``), the same in every figure.

    Humans are black and the study's families have fixed colours. Any other name starts from the
    palette slot of a stable hash of the name; if another model already holds that colour in this
    process, it takes the next free one, so models in one report never share a colour (until the
    palette runs out) and keep their colours however figures order them.

    Args:
        name: Model or observer name.

    Returns:
        A hex colour string.
    """
    family = _family(name)
    if family is not None:
        return _FIXED[family]
    if name in _ASSIGNED:
        return _ASSIGNED[name]
    start = int(hashlib.sha256(name.encode()).hexdigest(), 16) % len(PALETTE)
    taken = set(_ASSIGNED.values()) | set(_FIXED.values())
    free = [PALETTE[(start + k) % len(PALETTE)] for k in range(len(PALETTE))
            if PALETTE[(start + k) % len(PALETTE)] not in taken]
    _ASSIGNED[name] = free[0] if free else PALETTE[start]
    return _ASSIGNED[name]


@contextlib.contextmanager
def reserved_colors(names: Sequence[str]) -> Iterator[None]:
    """Within the block, ``names`` hold the first free palette colours (:func:`reserve_colors`); the
    process-wide assignment is restored afterwards, so one report's choice does not leak into the next."""
    saved = dict(_ASSIGNED)
    _ASSIGNED.clear()
    reserve_colors(names)
    try:
        yield
    finally:
        _ASSIGNED.clear()
        _ASSIGNED.update(saved)


def reserve_colors(names: Sequence[str]) -> None:
    """Give the not yet coloured ``names`` the first unused palette colours, in the given order.

    A report calls this once with its models (sorted), so a handful of models get the most distinct
    colours (blue, red, green, yellow, ...) instead of hash-picked neighbours; every figure of the
    report then shows a model in the same colour. Humans and fixed families keep theirs.
    """
    used = set(_ASSIGNED.values())
    free = [c for c in PALETTE if c not in used]
    for name in names:
        if _family(name) is None and name not in _ASSIGNED and free:
            _ASSIGNED[name] = free.pop(0)


def model_marker(name: str) -> str:
    """Marker shape for a model: circles for video models, squares for image models, else triangles."""
    low = name.lower()
    if "video" in low:
        return "o"
    if "image" in low:
        return "s"
    if _family(name) == "human":
        return "D"
    return "^"


#: Layout problems of the figures saved in this process: path stem -> messages (see :mod:`figcheck`).
FIGURE_PROBLEMS: dict[str, list[str]] = {}


def save_figure(fig: Figure, path: str | Path, formats: tuple[str, ...] = ("pdf", "png")) -> list[Path]:
    """Save a figure as vector PDF and raster PNG next to each other, after checking its layout.

    Overlapping text and a figure wider than a two-column page are logged as warnings and recorded in
    :data:`FIGURE_PROBLEMS` (the report builder writes them to ``figure_checks.json``).

    Args:
        fig: The figure.
        path: Output path without suffix (a given suffix is replaced).
        formats: File formats to write.

    Returns:
        The written paths, in ``formats`` order.
    """
    base = Path(path)
    if base.suffix.lower() in {".pdf", ".png", ".svg"}:
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    from humanalign.report.figcheck import text_overlaps, too_wide

    problems = text_overlaps(fig) + [p for p in (too_wide(fig),) if p]
    FIGURE_PROBLEMS[str(base)] = problems
    for problem in problems:
        logger.warning("figure %s: %s", base.name, problem)
    written = []
    for fmt in formats:
        out = base.parent / f"{base.name}.{fmt}"
        fig.savefig(out, format=fmt)
        written.append(out)
    logger.info("saved figure %s (%s)", base, ", ".join(formats))
    return written


def require_columns(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise ``ValueError`` naming ``what``, the missing columns and the ones present.

    Raises:
        ValueError: when any of ``columns`` is not a column of ``df``.
    """
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: table lacks columns {missing} (has {list(df.columns)})")
