#!/usr/bin/env python3
"""Scores posterior samples of seismic patches (tools/acceptance/seismic_posterior.sh).

    seismic_posterior.py --truth TEST.h5 --posts post_0.h5 post_1.h5 ... [--level 0.9]
        [--train TRAIN.h5] [--json OUT.json]
    seismic_posterior.py --self-test

Definitions (per held-out patch, truth x, estimate a, sums over the patch's pixels):
  SNR(a) = 10 log10( sum x^2 / sum (a - x)^2 )  dB
  reported for the posterior mean and for the observation y itself (y = x + noise: the
  estimate "believe the data"), and for the best scalar shrinkage of y, c y with
  c = sum x y / sum y^2 fitted on the truth (an oracle linear baseline no pixel-wise
  estimator that ignores structure can beat), and with --train for a classical denoiser:
  the 2-D Wiener filter Y P / (P + s2), P = the mean power spectrum of the training
  patches' x (up to 2000), s2 = the noise power of this patch from y and the SNR stored
  on /y (mean y^2 / (1 + 10^(snr/10))); the means over patches are of the dB values.
  Also the SNR of the pixel-wise posterior median, and (with --train) the samples that
  left the data's range: max |sample| above twice the largest |x| of the training patches.
  Calibration: the fraction of all true pixels of all patches inside their central LEVEL
  posterior interval, [q((1 - LEVEL) / 2), q((1 + LEVEL) / 2)] of that pixel's samples
  (numpy's linear quantiles); a calibrated posterior gives LEVEL.
Exit status 0; the caller decides what passes.
"""
import argparse
import json
import sys

import numpy as np


def snr_db(estimate, truth):
    """10 log10(sum truth^2 / sum (estimate - truth)^2) over all values given."""
    err = np.sum((np.asarray(estimate, np.float64) - truth) ** 2)
    return float(10 * np.log10(np.sum(np.asarray(truth, np.float64) ** 2) / err))


def inside(samples, truth, level):
    """Per value: truth inside the central `level` interval of samples (axis 0)."""
    lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return (truth >= lo) & (truth <= hi)


def wiener(y, power, snr):
    """y (C, H, W) filtered by P / (P + noise power), the noise power from y and snr dB."""
    s2 = np.mean(y ** 2) / (1 + 10 ** (snr / 10)) * y[0].size  # per frequency of an unnormalised FFT
    return np.real(np.fft.ifft2(np.fft.fft2(y) * power / (power + s2)))


def self_test():
    """Coverage on cases with known answers, SNR on a known ratio; raises when wrong."""
    r = np.random.default_rng(0)
    s = r.standard_normal((2000, 50, 50))
    cases = [  # (truth, expected coverage of the central 90 % interval of N(0, 1) samples)
        (r.standard_normal((50, 50)), 0.90),          # drawn from the same law: calibrated
        (2 * r.standard_normal((50, 50)), 0.5889),     # P(|2 z| <= 1.6449) = 2 Phi(0.8224) - 1
        (np.zeros((50, 50)), 1.0),                     # always inside
        (np.full((50, 50), 3.0), 0.0),                 # always outside
    ]
    for truth, want in cases:
        got = inside(s, truth, 0.9).mean()
        assert abs(got - want) < 0.02, f"coverage {got:.4f}, expected {want}"
    truth = r.standard_normal(100000)
    got = snr_db(truth + 0.1 * r.standard_normal(truth.size), truth)
    assert abs(got - 20) < 0.1, f"SNR {got:.3f} dB, expected 20"
    # white x at 0 dB: the Wiener filter halves y, SNR 10 log10(2)
    x = r.standard_normal((1, 256, 256))
    got = snr_db(wiener(x + r.standard_normal(x.shape), np.full((256, 256), 256.0 ** 2), 0), x)
    assert abs(got - 3.01) < 0.05, f"Wiener SNR {got:.3f} dB, expected 3.01"
    print("self-test: coverage 0.90 / 0.589 / 1 / 0, SNR 20 dB and white-noise Wiener 3.01 dB reproduced")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--truth", help="HDF5 file with /x (truth) and /y (observations)")
    p.add_argument("--posts", nargs="*", default=[], help="nflow sample --cond outputs, one per patch")
    p.add_argument("--level", type=float, default=0.9)
    p.add_argument("--train", help="HDF5 file whose /x gives the Wiener filter's signal spectrum")
    p.add_argument("--json", help="write the numbers here")
    p.add_argument("--self-test", action="store_true")
    a = p.parse_args()
    if a.self_test:
        self_test()
        return
    import h5py
    rows, hits, total, power, bound = [], 0, 0, None, np.inf
    if a.train:
        with h5py.File(a.train, "r") as f:
            xt = f["x"][:2000].astype(np.float64)
        power, bound = np.mean(np.abs(np.fft.fft2(xt)) ** 2, axis=0), 2 * np.max(np.abs(xt))
    with h5py.File(a.truth, "r") as t:
        snr = float(t["y"].attrs["snr_db"])
        for path in a.posts:
            with h5py.File(path, "r") as f:
                i = int(f["x"].attrs["index"])
                samples, mean = f["x"][()].astype(np.float64), f["mean"][()][0].astype(np.float64)
            x, y = t["x"][i].astype(np.float64), t["y"][i].astype(np.float64)
            c = np.sum(x * y) / np.sum(y * y)
            ins = inside(samples, x, a.level)
            hits, total = hits + int(ins.sum()), total + ins.size
            rows.append(dict(index=i, samples=len(samples), snr_mean=snr_db(mean, x), snr_y=snr_db(y, x),
                             snr_shrunk_y=snr_db(c * y, x), coverage=float(ins.mean()),
                             snr_wiener=snr_db(wiener(y, power, snr), x) if power is not None else float("nan"),
                             snr_median=snr_db(np.median(samples, axis=0), x),
                             exploded=int(np.sum(np.abs(samples).reshape(len(samples), -1).max(1) > bound)),
                             mean_std=float(np.mean(np.std(samples, axis=0, ddof=1)))))
    out = dict(level=a.level, patches=rows, coverage=hits / total,
               snr_mean=float(np.mean([r["snr_mean"] for r in rows])),
               snr_y=float(np.mean([r["snr_y"] for r in rows])),
               snr_shrunk_y=float(np.mean([r["snr_shrunk_y"] for r in rows])),
               snr_wiener=float(np.mean([r["snr_wiener"] for r in rows])),
               snr_median=float(np.mean([r["snr_median"] for r in rows])),
               exploded=int(sum(r["exploded"] for r in rows)), samples=int(sum(r["samples"] for r in rows)))
    print("| patch | samples | SNR posterior mean (dB) | SNR y (dB) | SNR c*y, oracle c (dB) | SNR Wiener (dB) | "
          f"SNR posterior median (dB) | inside central {a.level:.0%} | mean posterior std | exploded samples |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['index']} | {r['samples']} | {r['snr_mean']:.2f} | {r['snr_y']:.2f} | {r['snr_shrunk_y']:.2f} | "
              f"{r['snr_wiener']:.2f} | {r['snr_median']:.2f} | {r['coverage']:.3f} | {r['mean_std']:.4g} | "
              f"{r['exploded']} |")
    print(f"| **mean** | | **{out['snr_mean']:.2f}** | {out['snr_y']:.2f} | {out['snr_shrunk_y']:.2f} | "
          f"{out['snr_wiener']:.2f} | {out['snr_median']:.2f} | **{out['coverage']:.3f}** (all {total} pixels) | | "
          f"{out['exploded']} of {out['samples']} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
