"""Data-scaling fits: log-linear trends and saturating power laws, with intervals and extrapolation.

Two models of performance ``y`` against data size ``x`` (e.g. hours of pretraining video):

* log-linear, ``y = a + b log10(x)`` (the form of the HVM-1 / Orhan et al. 2024 scaling trends), fitted
  by OLS (statsmodels). :meth:`LogLinearFit.predict` gives the 95% confidence band for the mean
  and the prediction interval for a new observation, both widening away from the data. When
  points share a seed (or any cluster), pass ``groups`` to get cluster-robust standard errors.
* power law with an irreducible term, ``y = E + A x^(-alpha)``, fitted by nonlinear least
  squares (scipy), with bootstrap percentile CIs (residual bootstrap, or cluster bootstrap when
  ``groups`` are given).

:func:`compare_slopes` tests whether two log-linear trends differ in slope (interaction term).

Which finetuning epoch's accuracy a point uses is a statistics choice, named in every row
(:func:`label_accuracy_epoch`): ``"last"`` (the default, :data:`DEFAULT_ACCURACY_EPOCH`) is the last logged
epoch; ``"best"`` is the best logged *validation* epoch, selected on the split it is evaluated on, so it is
optimistic.

Example:
    >>> fit = fit_loglinear(hours, acc)
    >>> fit.predict([5000.0])   # mean, mean_ci_low/high, pi_low/high
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import optimize

__all__ = [
    "PREDICTION_COLUMNS",
    "ACCURACY_EPOCHS",
    "DEFAULT_ACCURACY_EPOCH",
    "accuracy_column",
    "label_accuracy_epoch",
    "LogLinearFit",
    "PowerLawFit",
    "fit_loglinear",
    "fit_power_law",
    "compare_slopes",
    "extrapolate",
]

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = ("x", "mean", "mean_ci_low", "mean_ci_high", "pi_low", "pi_high")
#: Epoch choice -> (column of the published-points table, how rows describe it).
ACCURACY_EPOCHS: dict[str, tuple[str, str]] = {
    "last": ("acc_last", "last logged finetuning epoch"),
    "best": ("acc_best", "best logged validation epoch (selected on the evaluation split: optimistic)"),
}
DEFAULT_ACCURACY_EPOCH = "last"


def accuracy_column(epoch: str = DEFAULT_ACCURACY_EPOCH) -> str:
    """Column of the published-points table holding the accuracy of ``epoch`` (``"last"`` or ``"best"``).

    Raises:
        ValueError: for another name.
    """
    if epoch not in ACCURACY_EPOCHS:
        raise ValueError(f"unknown accuracy epoch {epoch!r}; use one of {', '.join(ACCURACY_EPOCHS)}")
    return ACCURACY_EPOCHS[epoch][0]


def label_accuracy_epoch(rows: pd.DataFrame, epoch: str = DEFAULT_ACCURACY_EPOCH) -> pd.DataFrame:
    """``rows`` with ``accuracy_epoch`` (``"last"``/``"best"``) and ``accuracy_epoch_note`` on every row."""
    accuracy_column(epoch)
    return rows.assign(accuracy_epoch=epoch, accuracy_epoch_note=ACCURACY_EPOCHS[epoch][1])


# statsmodels ``get_prediction().summary_frame`` column names this module relies on (pinned in tests).
_SM_PRED = ("mean", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper")


def _as_xy(x: Any, y: Any, groups: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    if x.size < 3:
        raise ValueError(f"a scaling fit needs at least 3 points, got {x.size}")
    if not np.all(np.isfinite(x)) or not np.all(np.isfinite(y)):
        raise ValueError("x and y must be finite (no NaN/inf)")
    if np.any(x <= 0):
        raise ValueError(f"data sizes must be positive for a log scale, got min {x.min()}")
    g = None
    if groups is not None:
        g = pd.factorize(pd.Series(np.asarray(groups).ravel()))[0]
        if g.size != x.size:
            raise ValueError(f"groups must have one entry per point ({x.size}), got {g.size}")
    return x, y, g


@dataclass
class LogLinearFit:
    """Result of :func:`fit_loglinear`: ``y = intercept + slope * log_base(x)``.

    Attributes:
        intercept: ``a`` (value at x = 1).
        slope: ``b`` (change in y per factor-of-``base`` increase of x).
        params: Table of estimates with ``se``, ``ci_low``, ``ci_high``, ``p_value``.
        n: Number of points; ``n_groups`` the number of clusters (None without clustering).
        cov_type: ``"nonrobust"`` or ``"cluster"``.
        alpha: 1 - confidence level.
        result: The statsmodels results object.
    """

    intercept: float
    slope: float
    params: pd.DataFrame
    n: int
    n_groups: int | None
    cov_type: str
    alpha: float
    base: float
    result: Any = field(repr=False)
    x_range: tuple[float, float] = (float("nan"), float("nan"))

    def predict(self, x: Any, alpha: float | None = None) -> pd.DataFrame:
        """Mean prediction with its confidence band and the prediction interval at ``x``.

        Args:
            x: Data sizes (any positive values; far outside the data means extrapolation).
            alpha: 1 - confidence level (defaults to the fit's).

        Returns:
            DataFrame with :data:`PREDICTION_COLUMNS`.
        """
        xs = np.atleast_1d(np.asarray(x, dtype=float))
        if np.any(xs <= 0):
            raise ValueError("prediction sizes must be positive")
        design = np.column_stack([np.ones_like(xs), np.log(xs) / np.log(self.base)])
        frame = self.result.get_prediction(design).summary_frame(alpha=alpha or self.alpha)
        out = frame.loc[:, list(_SM_PRED)].to_numpy()
        return pd.DataFrame(np.column_stack([xs, out]), columns=list(PREDICTION_COLUMNS))


def fit_loglinear(
    x: Any, y: Any, groups: Any = None, base: float = 10.0, alpha: float = 0.05
) -> LogLinearFit:
    """Fit ``y = a + b log_base(x)`` by OLS.

    Args:
        x: Data sizes, shape [N], positive.
        y: Performance, shape [N].
        groups: Optional cluster label per point (e.g. the seed); gives cluster-robust standard
            errors with t-based inference on (n_groups - 1) degrees of freedom.
        base: Logarithm base (10: the slope is the gain per decade of data).
        alpha: 1 - confidence level of the reported intervals.

    Returns:
        A :class:`LogLinearFit`.
    """
    xs, ys, g = _as_xy(x, y, groups)
    design = np.column_stack([np.ones_like(xs), np.log(xs) / np.log(base)])  # [N, 2]
    if np.unique(design[:, 1]).size < 2:
        raise ValueError("a scaling fit needs at least two distinct data sizes")
    model = sm.OLS(ys, design)
    if g is not None:
        n_groups = int(np.unique(g).size)
        if n_groups < 2:
            raise ValueError("cluster-robust errors need at least two groups")
        result = model.fit(cov_type="cluster", cov_kwds={"groups": g}, use_t=True)
    else:
        n_groups = None
        result = model.fit()
    ci = np.asarray(result.conf_int(alpha=alpha))
    params = pd.DataFrame(
        {
            "param": ["intercept", "slope"],
            "estimate": np.asarray(result.params),
            "se": np.asarray(result.bse),
            "ci_low": ci[:, 0],
            "ci_high": ci[:, 1],
            "p_value": np.asarray(result.pvalues),
        }
    )
    return LogLinearFit(
        intercept=float(result.params[0]),
        slope=float(result.params[1]),
        params=params,
        n=int(xs.size),
        n_groups=n_groups,
        cov_type="cluster" if g is not None else "nonrobust",
        alpha=alpha,
        base=base,
        result=result,
        x_range=(float(xs.min()), float(xs.max())),
    )


def _power(x: np.ndarray, e: float, a: float, k: float) -> np.ndarray:
    return e + a * np.power(x, -k)


def _fit_power_once(x: np.ndarray, y: np.ndarray, p0: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optimize.OptimizeWarning)
        params, _ = optimize.curve_fit(
            _power, x, y, p0=p0, bounds=([-np.inf, -np.inf, 1e-4], [np.inf, np.inf, 5.0]), maxfev=5000
        )
    return params


@dataclass
class PowerLawFit:
    """Result of :func:`fit_power_law`: ``y = E + A x^(-alpha_exp)``.

    Attributes:
        E: Irreducible term (the asymptote as x grows).
        A: Scale (negative when y increases with x).
        alpha_exp: Exponent (> 0).
        params: Table of estimates with bootstrap ``ci_low``/``ci_high`` and ``se`` (bootstrap SD).
        boot: Bootstrap parameter draws, shape [B, 3] (E, A, alpha_exp).
        resid_sd: Residual SD of the point fit.
        n_failed: Bootstrap refits that did not converge (dropped).
    """

    E: float
    A: float
    alpha_exp: float
    params: pd.DataFrame
    boot: np.ndarray = field(repr=False)
    residuals: np.ndarray = field(repr=False)
    resid_sd: float
    alpha: float
    n_failed: int
    seed: int

    def predict(self, x: Any, alpha: float | None = None) -> pd.DataFrame:
        """Mean curve with bootstrap confidence band and prediction interval at ``x``.

        The prediction interval adds a resampled residual to each bootstrap curve.

        Returns:
            DataFrame with :data:`PREDICTION_COLUMNS`.
        """
        level = alpha or self.alpha
        xs = np.atleast_1d(np.asarray(x, dtype=float))
        curves = _power(xs[None, :], self.boot[:, :1], self.boot[:, 1:2], self.boot[:, 2:3])  # [B, M]
        rng = np.random.default_rng(self.seed + 1)
        noise = rng.choice(self.residuals, size=curves.shape, replace=True)
        lo, hi = 100 * level / 2, 100 * (1 - level / 2)
        mean = _power(xs, self.E, self.A, self.alpha_exp)
        return pd.DataFrame(
            {
                "x": xs,
                "mean": mean,
                "mean_ci_low": np.percentile(curves, lo, axis=0),
                "mean_ci_high": np.percentile(curves, hi, axis=0),
                "pi_low": np.percentile(curves + noise, lo, axis=0),
                "pi_high": np.percentile(curves + noise, hi, axis=0),
            }
        )


def _initial_guess(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Start values: asymptote beyond the best point, exponent 0.3, scale through the first point."""
    k0 = 0.3
    slope = np.polyfit(np.log10(x), y, 1)[0]
    spread = max(float(np.ptp(y)), 1e-6)
    e0 = y.max() + 0.5 * spread if slope > 0 else y.min() - 0.5 * spread
    a0 = (y[np.argmin(x)] - e0) * np.min(x) ** k0
    return np.array([e0, a0, k0])


def fit_power_law(
    x: Any,
    y: Any,
    groups: Any = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> PowerLawFit:
    """Fit ``y = E + A x^(-alpha_exp)`` by nonlinear least squares with bootstrap CIs.

    Args:
        x: Data sizes, shape [N], positive; needs at least 4 points (3 parameters).
        y: Performance, shape [N].
        groups: Optional cluster label per point; resamples whole clusters instead of residuals.
        n_boot: Bootstrap replicates.
        alpha: 1 - confidence level.
        seed: Random seed of the bootstrap.

    Returns:
        A :class:`PowerLawFit`.

    Raises:
        ValueError: on bad input or when the point fit does not converge.
    """
    xs, ys, g = _as_xy(x, y, groups)
    if xs.size < 4:
        raise ValueError(f"a 3-parameter power law needs at least 4 points, got {xs.size}")
    p0 = _initial_guess(xs, ys)
    try:
        est = _fit_power_once(xs, ys, p0)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"power-law fit did not converge: {err}") from err
    fitted = _power(xs, *est)
    resid = ys - fitted
    dof = max(xs.size - 3, 1)
    resid_c = (resid - resid.mean()) * np.sqrt(xs.size / dof)  # leverage-free variance inflation
    rng = np.random.default_rng(seed)
    draws, failed = [], 0
    clusters = np.unique(g) if g is not None else None
    for _ in range(n_boot):
        if clusters is not None:
            pick = rng.choice(clusters, size=clusters.size, replace=True)
            idx = np.concatenate([np.flatnonzero(g == c) for c in pick])
            bx, by = xs[idx], ys[idx]
            if np.unique(bx).size < 3:
                failed += 1
                continue
        else:
            bx, by = xs, fitted + rng.choice(resid_c, size=xs.size, replace=True)
        try:
            draws.append(_fit_power_once(bx, by, est))
        except (RuntimeError, ValueError):
            failed += 1
    if len(draws) < max(10, n_boot // 2):
        raise ValueError(f"power-law bootstrap failed in {failed} of {n_boot} replicates")
    if failed > 0.1 * n_boot:
        logger.warning("power-law bootstrap: %d of %d refits failed and were dropped", failed, n_boot)
    boot = np.asarray(draws)  # [B, 3]
    lo, hi = np.percentile(boot, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
    params = pd.DataFrame(
        {
            "param": ["E", "A", "alpha"],
            "estimate": est,
            "se": boot.std(axis=0, ddof=1),
            "ci_low": lo,
            "ci_high": hi,
        }
    )
    return PowerLawFit(
        E=float(est[0]),
        A=float(est[1]),
        alpha_exp=float(est[2]),
        params=params,
        boot=boot,
        residuals=resid_c,
        resid_sd=float(np.sqrt(np.sum(resid**2) / dof)),
        alpha=alpha,
        n_failed=failed,
        seed=seed,
    )


def compare_slopes(
    x1: Any, y1: Any, x2: Any, y2: Any, groups1: Any = None, groups2: Any = None, base: float = 10.0,
    alpha: float = 0.05,
) -> dict[str, float | str]:
    """Test whether two log-linear trends differ in slope (``y ~ g * log(x)`` interaction).

    Args:
        x1, y1: Data sizes and performance of trend 1.
        x2, y2: Data sizes and performance of trend 2.
        groups1, groups2: Optional cluster labels (e.g. seeds) for cluster-robust errors; labels are
            shared across the two trends (the same seed in both trends is one cluster).
        base: Logarithm base.
        alpha: 1 - confidence level.

    Returns:
        Dict with ``slope1``, ``slope2``, ``difference`` (slope2 - slope1), ``se``, ``ci_low``,
        ``ci_high``, ``statistic`` (t), ``p_value``, ``cov_type``.
    """
    xa, ya, _ = _as_xy(x1, y1)
    xb, yb, _ = _as_xy(x2, y2)
    xs = np.concatenate([xa, xb])
    ys = np.concatenate([ya, yb])
    ind = np.concatenate([np.zeros(xa.size), np.ones(xb.size)])
    lx = np.log(xs) / np.log(base)
    design = np.column_stack([np.ones_like(xs), ind, lx, ind * lx])  # [N, 4]
    model = sm.OLS(ys, design)
    if (groups1 is None) != (groups2 is None):
        raise ValueError("give groups for both trends or for neither")
    if groups1 is not None:
        labels = np.concatenate([np.asarray(groups1).ravel(), np.asarray(groups2).ravel()])
        codes = pd.factorize(pd.Series(labels))[0]
        result = model.fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
        cov_type = "cluster"
    else:
        result = model.fit()
        cov_type = "nonrobust"
    ci = np.asarray(result.conf_int(alpha=alpha))
    return {
        "slope1": float(result.params[2]),
        "slope2": float(result.params[2] + result.params[3]),
        "difference": float(result.params[3]),
        "se": float(result.bse[3]),
        "ci_low": float(ci[3, 0]),
        "ci_high": float(ci[3, 1]),
        "statistic": float(result.tvalues[3]),
        "p_value": float(result.pvalues[3]),
        "cov_type": cov_type,
    }


def extrapolate(fit: LogLinearFit | PowerLawFit, target: float, x_range: tuple[float, float] | None = None,
                alpha: float | None = None) -> dict[str, float | bool]:
    """Prediction at one target data size, with mean CI, prediction interval and an extrapolation flag.

    Args:
        fit: A log-linear or power-law fit.
        target: Data size to predict at (e.g. 4971 hours).
        x_range: (min, max) of the fitted sizes; read from a log-linear fit when omitted.
        alpha: 1 - confidence level (defaults to the fit's).

    Returns:
        Dict with x, mean, mean_ci_low, mean_ci_high, pi_low, pi_high, extrapolated (target outside
        the fitted range) and decades_beyond (log10 distance beyond the nearest fitted size; 0 inside).
    """
    lo, hi = x_range if x_range is not None else getattr(fit, "x_range", (np.nan, np.nan))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError("extrapolate: pass x_range for fits that do not record their data range")
    row = fit.predict([target], alpha=alpha).iloc[0].to_dict()
    beyond = max(np.log10(lo / target), np.log10(target / hi), 0.0)
    return {**{k: float(v) for k, v in row.items()}, "extrapolated": bool(beyond > 0),
            "decades_beyond": float(beyond)}
