"""RSA bootstrap: ``evaluate`` (noise ceiling from all data) vs rsatoolbox recomputing it per sample.

92 stimuli (the size of the 92-image set), 3 model RDMs, subject RDMs = noisy copies of one feature
RDM, 50 bootstrap samples. For each (subjects, bootstrap) setting, both variants run with the same
seed; prints their times, the largest difference between their model CIs (0 = identical), and last
the ratio of the 16-subject stimulus bootstrap: rsatoolbox's per-sample ceiling / ours.

Usage: ``python bench/rsa_bootstrap.py [--n-boot 50]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import humanalign.compare.rsa as rsa

RUNNERS = {"stimuli": "eval_bootstrap_pattern", "subjects": "eval_bootstrap_rdm", "joint": "eval_bootstrap"}


def synthetic(subjects: int, stimuli: int = 92, seed: int = 0) -> tuple[dict, object]:
    rng = np.random.default_rng(seed)
    ids = [f"s{i}" for i in range(stimuli)]
    truth = rng.normal(size=(stimuli, 16))
    data = rsa.rdm_from_measurements(truth + rng.normal(size=truth.shape), ids, subject="1")
    for k in range(2, subjects + 1):
        data.append(rsa.rdm_from_measurements(truth + rng.normal(size=truth.shape), ids, subject=str(k)))
    models = {f"m{j}": rsa.rdm_from_measurements(truth + 2 * rng.normal(size=truth.shape), ids) for j in range(3)}
    return models, data


def timed(models: dict, data: object, bootstrap: str, n_boot: int, recompute: bool) -> tuple[float, np.ndarray]:
    """Seconds and ``[models, 2]`` CIs of one evaluate(), with the per-sample ceiling forced on if asked."""
    name = RUNNERS[bootstrap]
    runner = getattr(rsa, name)
    if recompute:
        setattr(rsa, name, lambda *a, **k: runner(*a, **{**k, "boot_noise_ceil": True}))
    try:
        tic = time.perf_counter()
        table = rsa.evaluate(models, data, bootstrap=bootstrap, n_boot=n_boot, seed=0).table
        return time.perf_counter() - tic, table[["ci_low", "ci_high"]].to_numpy()
    finally:
        setattr(rsa, name, runner)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-boot", type=int, default=50)
    args = parser.parse_args()
    ratio = float("nan")
    for subjects, bootstrap in [(4, "stimuli"), (16, "stimuli"), (16, "subjects"), (16, "joint")]:
        models, data = synthetic(subjects)
        ours, ci_ours = timed(models, data, bootstrap, args.n_boot, recompute=False)
        full, ci_full = timed(models, data, bootstrap, args.n_boot, recompute=True)
        print(f"{subjects:2d} subjects, bootstrap {bootstrap:8s}  ours {ours:6.2f} s   per-sample ceiling "
              f"{full:6.2f} s   ratio {full / ours:4.2f}x   max CI difference {np.abs(ci_full - ci_ours).max():.1e}")
        if (subjects, bootstrap) == (16, "stimuli"):
            ratio = full / ours
    print(f"ratio rsatoolbox per-sample noise ceiling / ours (16 subjects, stimulus bootstrap): {ratio:.2f}x")


if __name__ == "__main__":
    main()
