#!/usr/bin/env bash
# The PyTorch peer of the time-to-quality benchmark (tools/torch/glow_fm.py) is nflow's
# Glow: a small Glow (L=2, K=2, hidden 8) trains 10 steps on Fashion-MNIST with
# `nflow train --dump`, gradient clipping active on every step (--clip 20, norms ~1e2-1e3)
# and a cosine schedule with warm-up; then `glow_fm.py check`:
#  * the first step's loss, from nflow's initial parameters (init.h5) on batch 1 with
#    ActNorm initialised from it, equals nflow's to 1e-4 relative;
#  * nflow's trained model.h5 (couplings no longer the identity) has on the dumped
#    held-out samples the loss nflow's last validation reported, to 1e-4;
#  * trained by the peer on the same batches, the losses stay within 1e-3 of nflow's.
# And the check can fail: with the coupling's scale floor of the model file changed
# (0.1 -> 0.2), the held-out loss differs and the check says FAIL.
# Skips (exit 77) without /usr/bin/python3's torch, h5py and numpy (Debian's
# python3-torch; CI does not install it). No timing here: tools/bench/time_to_quality.py.
# argv[1] = build directory; NFLOW_SOURCE_DIR = source directory.
source "$(dirname "$0")/cli_common.sh"
src="${NFLOW_SOURCE_DIR:?NFLOW_SOURCE_DIR not set}"
if ! /usr/bin/python3 -c 'import torch, h5py, numpy' 2>/dev/null; then
  echo "SKIPPED: /usr/bin/python3 cannot import torch, h5py and numpy (apt-get install python3-torch python3-h5py)"
  exit 77
fi
FM=/usr/share/datasets/fashion-mnist
[ -d "$FM" ] || { echo "FAIL: $FM is missing (Debian package dataset-fashion-mnist; tools/setup.sh installs it)"; exit 1; }
"$B" data fashion-mnist --out "$T/fm.h5" >/dev/null || { echo "FAIL: converting Fashion-MNIST"; exit 1; }
"$B" train --data "$T/fm.h5:/train/x" --val "$T/fm.h5:/test/x" --val-size 64 --val-every 5 --levels 2 --depth 2 \
  --hidden 8 --batch 16 --lr 1e-3 --schedule cosine --lr-min 1e-5 --warmup 3 --clip 20 --steps 10 --threads 1 \
  --no-plots --no-gif --quiet --out "$T/run" --dump "$T/run/dump" >"$T/run.log" 2>&1 \
  || { echo "FAIL: nflow train: $(tail -3 "$T/run.log")"; exit 1; }
/usr/bin/python3 - "$T/run/metrics.csv" <<'PY' || fail "the clip was not active on every step"
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["loss"]]
assert all(float(r["grad_norm"]) > 20 for r in rows), [r["grad_norm"] for r in rows]
PY
OMP_NUM_THREADS=1 /usr/bin/python3 "$src/tools/torch/glow_fm.py" check --nflow-run "$T/run" --threads 1 \
  >"$T/check.log" 2>&1 || fail "glow_fm.py check: $(cat "$T/check.log")"
cat "$T/check.log"

# the same check on a model file whose coupling floor differs must fail
/usr/bin/python3 -c "import h5py, sys; f = h5py.File(sys.argv[1], 'a'); f.attrs['coupling_min_scale'] = 0.2" \
  "$T/run/model.h5" || fail "editing model.h5"
OMP_NUM_THREADS=1 /usr/bin/python3 "$src/tools/torch/glow_fm.py" check --nflow-run "$T/run" --threads 1 --steps 1 \
  >"$T/bad.log" 2>&1 && fail "the check passed a model with another scale floor: $(cat "$T/bad.log")"
grep -q "CHECK FAIL" "$T/bad.log" || fail "no CHECK FAIL for the altered model: $(tail -3 "$T/bad.log")"
finish
