#!/usr/bin/env bash
# Acceptance of posterior sampling on seismic patches (issue 12, item 2): a conditional
# Glow learns p(x | y), x = a clean synthetic seismic patch (layered, folded, faulted
# reflectivity convolved with the Ricker wavelet along time), y = what a survey records,
# x plus white Gaussian noise at SNR dB; on held-out patches it must denoise (posterior mean
# closer to the truth than y) and be calibrated (the central 90 % posterior interval holds
# 85-95 % of the true pixels).
#
#   tools/acceptance/seismic_posterior.sh [--quick] [--n N] [--steps N] [--size S]
#       [--snr DB] [--floor R] [--min-scale X] [--patches P] [--samples M] [--threads T]
#       [--seed S] [--out DIR] [--nflow PATH]
#
# 1. nflow data seismic --snr: N training pairs of SxS patches (seed S) and P held-out
#    ones (seed S+1, so other earth models and other noise). --floor R adds white noise of
#    R times the rms to x itself (nflow data --noise; y observes that x): a clean seismic
#    patch is band-limited, almost degenerate, and a flow fitted to it can explode when
#    sampled; the floor gives it a full-rank density. --min-scale: the couplings' floor
#    (not given: nflow train's default for a conditional Glow, 0.5).
# 2. nflow train --cond: conditional Glow L=3 K=8 hidden 64, batch 16, Adam 1e-3 with 50
#    warm-up steps and cosine decay to 1e-5, STEPS steps; 200 pairs of the training file's
#    end held out for validation.
# 3. nflow sample --cond --index i: M posterior samples for each held-out patch, in data
#    units (--data: the training file's normalisation undone).
# 4. seismic_posterior.py scores them (SNR in dB = 10 log10(sum x^2 / sum (a - x)^2) per
#    patch; coverage of the central 90 % interval over all pixels; see its --help) and
#    nflow plot posterior draws patches 0 and 1 (truth | y | mean | std | samples).
#
# Defaults: --n 4000 --steps 2000 --size 64 --snr 0 --patches 16 --samples 256 --threads 2
# --seed 1 --out acceptance_seismic. --quick: 16x16 patches, 512 pairs, L=2 K=4 hidden 16,
# 300 steps, 8 patches of 100 samples: the ctest version
# (tests/scripts/test_cli_seismic_posterior.sh). Finished parts are not run again (OUT/commands.txt still lists them). OUT/summary.md
# gets the numbers and every command run; exit status 1 when the goal is missed (posterior
# mean SNR not above y's, or coverage outside 0.85-0.95).
set -euo pipefail
cd "$(dirname "$0")/../.."
QUICK=0 N="" STEPS="" SIZE="" SNR=0 FLOOR=0 MINSCALE="" PATCHES="" SAMPLES="" THREADS=2 SEED=1 OUT="" NFLOW=build/nflow
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --n) N=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --snr) SNR=$2; shift 2 ;;
    --floor) FLOOR=$2; shift 2 ;;
    --min-scale) MINSCALE=$2; shift 2 ;;
    --patches) PATCHES=$2; shift 2 ;;
    --samples) SAMPLES=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --nflow) NFLOW=$2; shift 2 ;;
    -h|--help) sed -n 2,32p "$0"; exit 0 ;;
    *) echo "seismic_posterior.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ $QUICK = 1 ]; then
  SIZE=${SIZE:-16} N=${N:-512} STEPS=${STEPS:-300} PATCHES=${PATCHES:-8} SAMPLES=${SAMPLES:-100}
  LEVELS=2 K=4 HIDDEN=16 WARMUP=20 VAL=64
else
  SIZE=${SIZE:-64} N=${N:-4000} STEPS=${STEPS:-2000} PATCHES=${PATCHES:-16} SAMPLES=${SAMPLES:-256}
  LEVELS=3 K=8 HIDDEN=64 WARMUP=50 VAL=200
fi
OUT=${OUT:-acceptance_seismic}
mkdir -p "$OUT"
HERE=$(cd "$(dirname "$0")" && pwd)
CMDS=$OUT/commands.txt
: >"$CMDS" # every command of the results, also those an earlier call of the script ran
# step FILE CMD...: runs CMD unless FILE exists (an earlier call made it); lists CMD either way
step() {
  local made=$1
  shift
  if [ -e "$made" ]; then echo "$* # (made by an earlier call)" >>"$CMDS"; return 0; fi
  echo "$*" >>"$CMDS"
  "$@"
}

step "$OUT/train.h5" "$NFLOW" data seismic --n "$N" --size "$SIZE,$SIZE" --snr "$SNR" --noise "$FLOOR" \
  --seed "$SEED" --out "$OUT/train.h5" >/dev/null
step "$OUT/test.h5" "$NFLOW" data seismic --n "$PATCHES" --size "$SIZE,$SIZE" --snr "$SNR" --noise "$FLOOR" \
  --seed $((SEED + 1)) --out "$OUT/test.h5" >/dev/null

TRAIN=("$NFLOW" train --data "$OUT/train.h5:/x" --cond "$OUT/train.h5:/y" --levels $LEVELS --depth $K
    --hidden $HIDDEN --batch 16 --lr 1e-3 --schedule cosine --lr-min 1e-5 --warmup $WARMUP --steps "$STEPS"
    ${MINSCALE:+--min-scale "$MINSCALE"} --val-size $VAL --seed "$SEED" --threads "$THREADS" --no-plots --no-gif --log-every 100
    --out "$OUT/train")
if [ -f "$OUT/train/model.h5" ]; then
  echo "${TRAIN[*]} # (made by an earlier call)" >>"$CMDS"
else
  rm -rf "$OUT/train"
  echo "${TRAIN[*]}" >>"$CMDS"
  "${TRAIN[@]}" >"$OUT/train.log" 2>"$OUT/train.err" ||
    { echo "seismic_posterior.sh: training failed:" >&2; tail -3 "$OUT/train.err" >&2; exit 1; }
fi

POSTS=()
for ((i = 0; i < PATCHES; i++)); do
  p=$OUT/post_$i.h5
  step "$p" "$NFLOW" sample --model "$OUT/train/model.h5" --cond "$OUT/test.h5:/y" --index $i \
      --n "$SAMPLES" --batch 64 --data "$OUT/train.h5:/x" --seed $((SEED + i)) --threads "$THREADS" --out "$p" >/dev/null
  POSTS+=("$p")
done
for i in 0 1; do
  step "$OUT/posterior_$i.png" "$NFLOW" plot posterior --samples "$OUT/post_$i.h5" --truth "$OUT/test.h5:/x" \
      --out "$OUT/posterior_$i.png" >/dev/null
done
echo "/usr/bin/python3 $HERE/seismic_posterior.py --truth $OUT/test.h5 --posts ${POSTS[*]} --train $OUT/train.h5 --json $OUT/scores.json" >>"$CMDS"
/usr/bin/python3 "$HERE/seismic_posterior.py" --truth "$OUT/test.h5" --posts "${POSTS[@]}" --train "$OUT/train.h5" --json "$OUT/scores.json" \
  >"$OUT/scores.md"

/usr/bin/python3 - "$OUT" "$SNR" <<'PY'
import json, re, sys
out, snr = sys.argv[1], float(sys.argv[2])
s = json.load(open(f"{out}/scores.json"))
log = open(f"{out}/train.log").read()
held = re.search(r"held-out objective on (\d+) samples: \S+ \(bits/dim (-?[0-9.]+)\)", log)
rebuild = re.search(r"rebuild error over .*", log)
denoises = s["snr_mean"] > s["snr_y"]
calibrated = 0.85 <= s["coverage"] <= 0.95
lines = [
    "# Posterior sampling of synthetic seismic patches (conditional Glow)", "",
    f"x = clean seismic patch (reflectivity * Ricker), y = x + white Gaussian noise at {snr:g} dB "
    "(10 log10(mean x^2 / noise variance) per patch).",
    "SNR(a) = 10 log10(sum x^2 / sum (a - x)^2) over a patch, in dB, averaged over the held-out patches; "
    "c*y: y scaled by the best constant for each patch, fitted on the truth (an oracle baseline); "
    "Wiener: the 2-D Wiener filter of y with the training patches' mean power spectrum and the known SNR.",
    "coverage: fraction of all true pixels inside the central 90 % interval (5 % and 95 % quantiles) of "
    "their posterior samples.", "",
    open(f"{out}/scores.md").read().rstrip(), "",
    f"* posterior mean SNR {s['snr_mean']:.2f} dB against {s['snr_y']:.2f} dB for y "
    f"({s['snr_mean'] - s['snr_y']:+.2f} dB; oracle-scaled y {s['snr_shrunk_y']:.2f} dB, "
    f"Wiener filter {s['snr_wiener']:.2f} dB; posterior median {s['snr_median']:.2f} dB)",
    f"* samples beyond twice the training data's largest |x|: {s['exploded']} of {s['samples']}",
    f"* coverage of the central 90 % interval: {s['coverage']:.3f} (goal 0.85-0.95)",
    f"* training: held-out objective on {held.group(1)} pairs: bits/dim {held.group(2)}" if held else "* training: no held-out line",
    f"* {rebuild.group(0)}" if rebuild else "", "",
    "figures: posterior_0.png, posterior_1.png (truth | y | posterior mean | std | samples)", "",
    "commands:", "", "```", open(f"{out}/commands.txt").read().rstrip(), "```", "",
    f"result: {'PASS' if denoises and calibrated else 'FAIL'} (denoising {'ok' if denoises else 'FAILS'}, "
    f"calibration {'ok' if calibrated else 'FAILS'})",
]
open(f"{out}/summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
sys.exit(0 if denoises and calibrated else 1)
PY
