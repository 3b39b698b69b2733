"""A small synthetic results store with rows of every report area (for the report tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from humanalign.compare.contrasts import contrast_rows
from humanalign.io.results import ResultsStore
from humanalign.io.trials import CATEGORIES16

MODELS = ("vit_s16_image", "vit_s16_video")
HASH = {"vit_s16_image": "a1", "vit_s16_video": "b2"}


def _m(model: str, **row: object) -> dict:
    return {"model": model, "checkpoint_hash": HASH.get(model), **row}


def report_store(path: Path) -> ResultsStore:
    """Rows for behaviour, RSA, robustness, contrasts, probes and scaling; 16-class and 4-class trials."""
    rng = np.random.default_rng(0)
    store = ResultsStore(path)
    rows: list[dict] = []
    for k, model in enumerate((*MODELS, "humans")):
        hum = model == "humans"
        for dataset in ("all", "cue-conflict", "edge"):
            for metric, v in (("error_consistency", 0.30 if hum else 0.05 + 0.04 * k),
                              ("accuracy_difference", 0.01 if hum else 0.3 - 0.05 * k),
                              ("observed_consistency", 0.8 if hum else 0.4 + 0.05 * k),
                              ("ood_accuracy", 0.85 if hum else 0.3 + 0.06 * k)):
                if dataset == "all" and metric == "ood_accuracy":
                    continue
                rows.append(_m(model, layer=None if hum else "final", benchmark="model-vs-human", dataset=dataset,
                               metric=metric, value=v, ci_low=v - 0.03, ci_high=v + 0.03, n=800 if hum else 80))
        rows.append(_m(model, benchmark="model-vs-human", dataset="cue-conflict", metric="shape_bias",
                       value=0.96 if hum else 0.3 + 0.1 * k, n=80))
        for c, cat in enumerate(CATEGORIES16):
            rows.append(_m(model, benchmark="model-vs-human", dataset="cue-conflict", condition=cat,
                           metric="shape_bias_category", value=float(np.clip(0.9 if hum else 0.2 + 0.04 * c, 0, 1))))
    for k, model in enumerate(MODELS):
        for layer in range(4):
            for ref in ("hIT", "behaviour"):
                v = 0.05 + 0.03 * layer + 0.02 * k
                rows.append(_m(model, layer=str(layer), benchmark="rsa", dataset="rsa92", condition=ref,
                               metric="rsa_spearman", value=v, ci_low=v - 0.02, ci_high=v + 0.02, n=4))
        base = 0.8 - 0.1 * k
        rows.append(_m(model, benchmark="robustness", dataset="motion-direction", condition="clean", metric="accuracy",
                       value=base, ci_low=base - 0.1, ci_high=base + 0.1, n=48, corruption="clean", severity=0))
        for corruption in ("gaussian_noise", "shot_noise", "motion_blur", "fog"):
            for sev in (1, 3, 5):
                v = base - 0.1 * sev * (0.5 + 0.1 * k)
                rows.append(_m(model, benchmark="robustness", dataset="motion-direction", condition=f"{corruption}/{sev}",
                               metric="accuracy", value=v, ci_low=v - 0.1, ci_high=v + 0.1, n=48,
                               corruption=corruption, severity=sev))
        for metric, v in (("mPC", 0.5 - 0.1 * k), ("rPC", 0.7 - 0.1 * k), ("mCE", 0.9 + 0.1 * k)):
            rows.append(_m(model, benchmark="robustness", dataset="motion-direction", condition="summary:81d6e9138319",
                           metric=metric, value=v, n=48))
        rows.append(_m(model, benchmark="eval_linear", dataset="motion-direction", metric="top1",
                       value=0.188 + 0.3 * k, ci_low=0.1 + 0.3 * k, ci_high=0.3 + 0.3 * k, n=48))
        rows.append(_m(model, benchmark="eval_linear", dataset="motion-direction", metric="top5", value=1.0, n=48))
    for name, v in (("lower", 0.3), ("upper", 0.4)):
        for ref in ("hIT", "behaviour"):
            rows.append({"model": "noise_ceiling", "benchmark": "rsa", "dataset": "rsa92", "condition": ref,
                         "metric": f"rsa_spearman_noise_ceiling_{name}", "value": v})
    cells = [{"dataset": "cue-conflict", "condition": "0", "n": 80, "difference": 0.06, "ci_low": 0.01,
              "ci_high": 0.11, "p_value": 0.004, "p_adjusted": 0.012, "test": "mcnemar_exact", "level": "items"},
             {"dataset": "motion-direction", "condition": "clean", "n": 48, "difference": -0.1, "ci_low": -0.2,
              "ci_high": 0.0, "p_value": 0.2, "p_adjusted": 0.4, "test": "mcnemar_exact", "level": "items"},
             {"dataset": "motion-direction", "condition": "corrupted (pooled)", "n": 576, "difference": -0.05,
              "ci_low": -0.09, "ci_high": -0.01, "p_value": 0.01, "p_adjusted": 0.03, "test": "mcnemar_chi2",
              "level": "items"},
             {"dataset": "motion-direction", "condition": "fog/3", "n": 48, "difference": 0.02, "ci_low": -0.05,
              "ci_high": 0.09, "p_value": 0.6, "p_adjusted": 0.6, "test": "mcnemar_exact", "level": "items"}]
    con = contrast_rows(cells, MODELS[0], MODELS[1])
    for row in con:
        row["contrast_metric"] = "accuracy"
        if row["metric"] == "difference":
            row["value_a"], row["value_b"] = 0.5, 0.5 + row["value"]
    rows += con
    for shots, slope in (("10-shot", 2.8), ("50-shot", 6.0)):
        for h in (0.2, 2.0, 20.0, 200.0):
            rows.append({"model": f"series:childS_{h}h", "benchmark": "scaling", "dataset": "ssv2", "condition": shots,
                         "metric": "top1_acc", "value": 3 + slope * np.log10(h) + rng.normal(0, 0.5), "hours": h,
                         "role": "fit"})
        for h in np.geomspace(0.1, 20000, 12):
            m = 3 + slope * np.log10(h)
            rows.append({"model": "series:childS", "benchmark": "scaling", "dataset": "ssv2", "condition": shots,
                         "metric": f"fit_mean@{h:.4g}h", "value": m, "ci_low": m - 2, "ci_high": m + 2,
                         "pi_low": m - 5, "pi_high": m + 5, "hours": h, "role": "curve"})
        rows.append({"model": "series:childS", "benchmark": "scaling", "dataset": "ssv2", "condition": shots,
                     "metric": "slope_per_decade", "value": slope, "ci_low": slope - 2, "ci_high": slope + 2,
                     "role": "param"})
        for model, acc in (("hvm1_224", 3 + slope * 3.6), ("hvm1_448", 5 + slope * 3.6)):
            rows.append({"model": f"reference:{model}", "benchmark": "scaling", "dataset": "ssv2", "condition": shots,
                         "metric": "top1_acc", "value": acc, "hours": 4971.0, "role": "heldout"})
    store.append_metrics(rows)
    trials = []
    for model in MODELS:
        for i in range(32):
            cat = CATEGORIES16[i % 16]
            trials.append({"observer": model, "subject": model, "session": 1, "trial": i, "dataset": "cue-conflict",
                           "object_response": cat if rng.random() < 0.5 else CATEGORIES16[(i + 3) % 16],
                           "category": cat, "condition": "0", "imagename": f"{cat}{i}-{CATEGORIES16[(i + 3) % 16]}1.png",
                           "checkpoint_hash": HASH[model]})
        for i, direction in enumerate(("up", "down", "left", "right") * 3):
            trials.append({"observer": model, "subject": model, "session": 1, "trial": i,
                           "dataset": "motion-direction", "object_response": direction, "category": direction,
                           "condition": "clean", "imagename": f"{direction}/{i}.mp4", "checkpoint_hash": HASH[model]})
    store.append_trials(trials)
    return store
