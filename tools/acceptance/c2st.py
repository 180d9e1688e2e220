#!/usr/bin/python3
"""Scores posterior samples of sbibm's gaussian_linear against the exact posterior.

For each observation i of the data file (nflow data gaussian-linear: /obs/x), reads the
posterior samples of nflow sample (SAMPLES_DIR/post_<i>.h5:/x), draws as many exact
posterior samples N(x_i / 2, 0.05 I) and reports
  c2st:      the classifier two-sample test as sbibm computes it (sbibm/metrics/c2st.py):
             both sets z-scored by the reference sample's mean and std, an MLP classifier
             (relu, two hidden layers of 10 * dim units, adam, max_iter 10000,
             random_state 1) and its mean 5-fold cross-validated accuracy (KFold,
             shuffled, random_state 1); 0.5 = indistinguishable, 1 = fully separated;
  mean_err:  |mean(samples) - x / 2|_2, the error of the posterior mean;
  cov_err:   |cov(samples) - 0.05 I|_F / |0.05 I|_F, the relative error of the covariance.
Prints one line per observation, the means, and writes them as JSON (--json FILE).

  c2st.py DATA.h5 SAMPLES_DIR [--n N] [--c2st-n M] [--obs "0 1 2"] [--against K] [--json FILE]
          [--jobs J]

--n uses the first N samples of each file (and N reference samples); --c2st-n M gives the
classifier only the first M of them (sbibm uses all: 10 000; the fits take most of the
time), the mean and covariance errors still use all N; --against K scores
observation i's samples against the posterior of observation K instead (a wrong
condition: what a flow that ignores its condition would give), to show the score can fail.
--jobs J fits J of the five folds at once (separate processes; the folds and so the score
are the same for any J).
"""
import argparse
import json
import sys

import h5py
import numpy as np
from sklearn.model_selection import KFold, cross_val_score
from sklearn.neural_network import MLPClassifier


def c2st(x_ref, y, seed=1, folds=5, jobs=1):
    """sbibm.metrics.c2st with its defaults (z_score=True, accuracy)."""
    mean, std = x_ref.mean(axis=0), x_ref.std(axis=0, ddof=1)
    x_ref = (x_ref - mean) / std
    y = (y - mean) / std
    dim = x_ref.shape[1]
    clf = MLPClassifier(activation="relu", hidden_layer_sizes=(10 * dim, 10 * dim), max_iter=10000, solver="adam",
                        random_state=seed)
    data = np.concatenate((x_ref, y))
    target = np.concatenate((np.zeros(len(x_ref)), np.ones(len(y))))
    cv = KFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(np.mean(cross_val_score(clf, data, target, cv=cv, scoring="accuracy", n_jobs=jobs)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("samples")
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--c2st-n", type=int, default=0)
    ap.add_argument("--obs", default="")
    ap.add_argument("--against", type=int, default=-1)
    ap.add_argument("--json", default="")
    ap.add_argument("--jobs", type=int, default=1)
    a = ap.parse_args()
    with h5py.File(a.data, "r") as f:
        xs = f["obs/x"][:].astype(np.float64)
        var = float(f.attrs["posterior_var"][0])
    obs = [int(i) for i in a.obs.split()] if a.obs else list(range(len(xs)))
    rng = np.random.default_rng(12345)
    rows = []
    for i in obs:
        with h5py.File(f"{a.samples}/post_{i}.h5", "r") as f:
            s = f["x"][:].reshape(f["x"].shape[0], -1).astype(np.float64)
        if a.n:
            s = s[: a.n]
        k = a.against if a.against >= 0 else i
        mu = xs[k] / 2
        ref = mu + np.sqrt(var) * rng.standard_normal(s.shape)
        eye = var * np.eye(s.shape[1])
        m = a.c2st_n if a.c2st_n else len(s)
        row = {"obs": i, "against": k, "n": len(s), "c2st_n": min(m, len(s)), "c2st": c2st(ref[:m], s[:m], jobs=a.jobs),
               "mean_err": float(np.linalg.norm(s.mean(axis=0) - mu)),
               "cov_err": float(np.linalg.norm(np.cov(s, rowvar=False) - eye) / np.linalg.norm(eye))}
        rows.append(row)
        print(f"observation {i}{'' if k == i else f' against {k}'}: c2st {row['c2st']:.4f}  "
              f"mean error {row['mean_err']:.4f}  covariance error {row['cov_err']:.4f}  ({len(s)} samples, C2ST on {row['c2st_n']})", flush=True)
    summary = {key: float(np.mean([r[key] for r in rows])) for key in ("c2st", "mean_err", "cov_err")}
    print(f"mean over {len(rows)} observations: c2st {summary['c2st']:.4f}  mean error {summary['mean_err']:.4f}  "
          f"covariance error {summary['cov_err']:.4f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"observations": rows, "mean": summary}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
