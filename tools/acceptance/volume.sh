#!/usr/bin/env bash
# Acceptance of 3-D Glow (issue 12, item 3): a Glow on 1x32x32x32 synthetic seismic cubes
# whose bits/dim falls steadily, and whose activation memory for one training step is flat
# in the number of flow steps: peak at K=32 <= 1.05 x peak at K=4.
#
#   tools/acceptance/volume.sh [--quick] [--steps N] [--n N] [--threads T] [--out DIR]
#       [--nflow PATH]
#
# 1. nflow data seismic --cube: N training cubes (seed 1) and 256 held-out ones (seed 2).
# 2. nflow train: Glow L=3 K=8 hidden 16, batch 8, Adam 3e-4 with 20 warm-up steps and
#    cosine decay to 3e-5, STEPS steps [800]; validation on the held-out cubes at every
#    epoch end and at the end. "Falls steadily": the mean training bits/dim of each tenth
#    of the run is below that of the tenth before, or above it by less than twice the
#    standard error of their difference (batch-to-batch noise: near the end of a run two
#    tenths can differ by less than that either way), every held-out evaluation is below
#    the one before, and the last tenth's mean is below the first's.
# 3. Memory: Glows of K=4 and K=32 (same L, hidden), one step each (nflow train --steps 1),
#    then nflow info --json --batch 8 measures one training step of each: the peak of
#    nflow's own allocations less what grows with the parameters by design (values,
#    gradients, two Adam moments, frozen flags: 4 floats + 1 byte per parameter) and the
#    batch itself is the activation memory; K=32 must stay within 1.05x K=4. The whole
#    process's peak RSS of the same measurement (less the same parameter bytes) is reported
#    beside it. (tests/unit/test_glow_memory.c shows the check fails when activations are
#    stored.)
#
# --quick: 16^3 cubes, 256 of them, L=2 K=2 hidden 8, 40 steps in quarters, K=4 vs K=32 at
# hidden 8: the ctest version (tests/scripts/test_acceptance_volume.sh), about a minute.
# Finished parts are not run again (the script can be stopped and restarted). The table
# goes to OUT/summary.md; exit status 1 when a criterion fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
QUICK=0 STEPS="" N="" THREADS=2 OUT="" NFLOW=build/nflow
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --steps) STEPS=$2; shift 2 ;;
    --n) N=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --nflow) NFLOW=$2; shift 2 ;;
    -h|--help) sed -n 2,28p "$0"; exit 0 ;;
    *) echo "volume.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ $QUICK = 1 ]; then
  SIZE=16 N=${N:-256} NTEST=64 STEPS=${STEPS:-40} LEVELS=2 K=2 HIDDEN=8 LR=1e-3 WARMUP=5 WINDOWS=4
else
  SIZE=32 N=${N:-4000} NTEST=256 STEPS=${STEPS:-800} LEVELS=3 K=8 HIDDEN=16 LR=3e-4 WARMUP=20 WINDOWS=10
fi
BATCH=8
OUT=${OUT:-acceptance_volume}
mkdir -p "$OUT"
S=$SIZE,$SIZE,$SIZE

[ -f "$OUT/cubes.h5" ] || "$NFLOW" data seismic --cube --n "$N" --size "$S" --seed 1 --out "$OUT/cubes.h5" >/dev/null
[ -f "$OUT/test.h5" ] || "$NFLOW" data seismic --cube --n "$NTEST" --size "$S" --seed 2 --out "$OUT/test.h5" >/dev/null

TRAIN=("$NFLOW" train --data "$OUT/cubes.h5:/x" --val "$OUT/test.h5:/x" --levels "$LEVELS" --depth "$K"
       --hidden "$HIDDEN" --batch "$BATCH" --lr "$LR" --warmup "$WARMUP" --schedule cosine
       --lr-min "$(/usr/bin/python3 -c "print('%g' % ($LR / 10))")" --steps "$STEPS" --seed 1 --threads "$THREADS"
       --no-gif --log-every 50 --out "$OUT/train")
if [ ! -f "$OUT/train/model.h5" ]; then
  rm -rf "$OUT/train"
  echo "${TRAIN[*]}" >"$OUT/train.cmd"
  "${TRAIN[@]}" >"$OUT/train.log" 2>"$OUT/train.err" || { echo "volume.sh: training failed:" >&2; tail -3 "$OUT/train.err" >&2; exit 1; }
fi

for k in 4 32; do
  d=$OUT/mem_k$k
  if [ ! -f "$d.json" ]; then
    rm -rf "$d"
    "$NFLOW" train --data "$OUT/cubes.h5:/x" --val none --levels "$LEVELS" --depth $k --hidden "$HIDDEN" \
        --batch "$BATCH" --steps 1 --seed 1 --threads "$THREADS" --no-plots --no-gif --quiet --out "$d" >/dev/null
    if [ -x /usr/bin/time ]; then
      /usr/bin/time -f %M -o "$d.rss" "$NFLOW" info "$d/model.h5" --batch "$BATCH" --json >"$d.json.tmp"
    else  # no process RSS column
      "$NFLOW" info "$d/model.h5" --batch "$BATCH" --json >"$d.json.tmp" && echo 0 >"$d.rss"
    fi
    mv "$d.json.tmp" "$d.json"
  fi
done

/usr/bin/python3 - "$OUT" "$WINDOWS" "$SIZE" "$BATCH" <<'PY'
import csv, json, re, statistics, sys
out, windows, size, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = [r for r in csv.DictReader(open(f"{out}/train/metrics.csv")) if r["loss"]]
vals = [r for r in csv.DictReader(open(f"{out}/train/metrics.csv")) if r.get("val_bits_per_dim")]
bpd = [float(r["bits_per_dim"]) for r in rows]
w = len(bpd) // windows
parts = [bpd[i * w:(i + 1) * w] for i in range(windows)]
means = [statistics.mean(p) for p in parts]
se = [statistics.stdev(p) / len(p) ** 0.5 for p in parts]
rises = [(i, means[i] - means[i - 1], 2 * (se[i] ** 2 + se[i - 1] ** 2) ** 0.5)
         for i in range(1, windows) if means[i] >= means[i - 1]]
held_out = [float(r["val_bits_per_dim"]) for r in vals]
steady = (all(rise < noise for _, rise, noise in rises) and means[-1] < means[0]
          and all(b < a for a, b in zip(held_out, held_out[1:])))
log = open(f"{out}/train.log").read()
m = re.search(r"held-out objective on (\d+) samples: \S+ \(bits/dim (-?[0-9.]+)\)", log)
held = float(m.group(2)) if m else float("nan")
err = open(f"{out}/train.err").read()
rollbacks = err.count("rolled back")
rebuild = re.search(r"rebuild error over .*", log)
mem = {}
for k in (4, 32):
    j = json.load(open(f"{out}/mem_k{k}.json"))
    rss = int(open(f"{out}/mem_k{k}.rss").read().split()[-1]) * 1024
    fixed = j["parameters"] * (4 * 4 + 1)
    data = batch * size ** 3 * 4
    mem[k] = dict(params=j["parameters"], peak=j["train_peak_bytes"], act=j["train_peak_bytes"] - fixed - data,
                  rss=rss, rss_act=rss - fixed)
ratio = mem[32]["act"] / mem[4]["act"]
rss_ratio = mem[32]["rss_act"] / mem[4]["rss_act"] if mem[4]["rss"] else float("nan")
ok_fall = steady and held < means[0]
ok_mem = ratio <= 1.05
MiB = 1 << 20
lines = [
    f"# 3-D Glow on 1x{size}x{size}x{size} synthetic seismic cubes",
    "",
    "command: `" + open(f"{out}/train.cmd").read().strip() + "`",
    "",
    f"* training bits/dim, mean of each of {windows} parts of {len(bpd)} steps: " + ", ".join(f"{v:.3f}" for v in means),
    "  (standard errors " + ", ".join(f"{v:.3f}" for v in se) + ")",
    "  rises: " + ("none" if not rises else ", ".join(f"tenth {i + 1} above tenth {i} by {r:.3f} (2 SE of the difference: {n:.3f})"
                                                    for i, r, n in rises)),
    f"  -> {'falls steadily' if steady else 'does NOT fall steadily'}",
    "* held-out bits/dim: " + ", ".join(f"step {r['step']}: {float(r['val_bits_per_dim']):.3f}" for r in vals)
    + f"; final on {m.group(1) if m else '?'} cubes: {held:.3f}",
    f"* rollbacks: {rollbacks}; {rebuild.group(0) if rebuild else 'no rebuild summary'}",
    f"* seconds per step: {float(rows[-1]['time_s']) / len(rows):.2f}",
    "",
    f"| K | parameters | nflow peak, one step (batch {batch}) | activations (peak - 17 B/parameter - batch) | process peak RSS | RSS - 17 B/parameter |",
    "|---|---|---|---|---|---|",
]
for k in (4, 32):
    v = mem[k]
    lines.append(f"| {k} | {v['params']} | {v['peak'] / MiB:.2f} MiB | {v['act'] / MiB:.2f} MiB | {v['rss'] / MiB:.1f} MiB | {v['rss_act'] / MiB:.1f} MiB |")
lines += ["", f"activation memory K=32 / K=4: **{ratio:.4f}** (criterion <= 1.05); process RSS less parameters: "
          + (f"{rss_ratio:.4f}" if mem[4]["rss"] else "not measured (no /usr/bin/time)"),
          "", f"result: {'PASS' if ok_fall and ok_mem else 'FAIL'} (bits/dim {'ok' if ok_fall else 'FAILS'}, memory {'ok' if ok_mem else 'FAILS'})"]
open(f"{out}/summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
sys.exit(0 if ok_fall and ok_mem else 1)
PY
