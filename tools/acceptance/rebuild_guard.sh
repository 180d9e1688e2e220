#!/usr/bin/env bash
# Acceptance runs of the rebuild guard (issue: invertible backprop that trains reliably):
# each configuration trained with invertible backprop (the guard on, the default) and
# with --store-activations (exact stored inputs, the reference), for several seeds and
# thread counts; then one table: exit status, rollbacks, steps recomputed, rebuild error
# (median, max), final held-out bits/dim and its distance to the stored run.
#
#   tools/acceptance/rebuild_guard.sh [--config fm|deep|seismic|deep64] [--seeds "1 2 3 4 5"]
#       [--threads "1 2"] [--out DIR] [--nflow PATH] [--jobs N] [--extra "FLAGS"]
#       [--lr PEAK] [--warmup STEPS] [--clip-rel K]
#
# fm:      README's recipe: Fashion-MNIST, Glow L=2 K=8 hidden 64, batch 64, cosine
#          1e-3 -> 1e-5 over 3000 steps, 100 warm-up, gradient norm clipped at 5e4
# deep:    Fashion-MNIST padded to 32x32, L=3 K=32 hidden 128, 2000 steps
# seismic: synthetic seismic 32x32 (nflow data seismic), L=2 K=8 hidden 64, 2000 steps
# deep64:  Fashion-MNIST, L=2 K=64 hidden 64, 2000 steps
#          (these three clip relatively, --clip-rel K: the absolute 5e4 of fm is a norm
#          of that data set's loss and would need measuring again for each)
# --extra adds flags to every training (e.g. "--min-scale 1e-3", the old coupling floor);
# --lr and --warmup change the schedule's peak rate [5e-4 for deep and deep64, whose exact
# references jumped at 1e-3 (docs/stability.md); 1e-3 for the others] and warm-up steps [100];
# --clip-rel the relative clip of deep, seismic and deep64 [2: on seismic 2.5 still let a
# run jump, docs/stability.md].
# Runs that finished already (model.h5 or a recorded exit status) are not run again, so
# the script can be stopped and restarted. --jobs N runs N trainings at once (use it
# with one thread each on a machine with N cores). Needs about 8 min per fm run on
# two cores; the table goes to OUT/summary.md. With two thread counts it also says how far
# rounding alone moves a final value (the same computation at both thread counts) beside
# the guard - store differences, the yardstick for the 0.05 criterion.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG=fm SEEDS="1 2 3 4 5" THREADS="1 2" OUT="" NFLOW=build/nflow JOBS=1 EXTRA= LR= WARMUP=100 CLIPREL=2
while [ $# -gt 0 ]; do
  case "$1" in
    --config) CONFIG=$2; shift 2 ;;
    --seeds) SEEDS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --nflow) NFLOW=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --extra) EXTRA=$2; shift 2 ;;
    --lr) LR=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --clip-rel) CLIPREL=$2; shift 2 ;;
    -h|--help) sed -n 2,29p "$0"; exit 0 ;;
    *) echo "rebuild_guard.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-acceptance_$CONFIG}
case "$CONFIG" in deep|deep64) LR=${LR:-5e-4} ;; *) LR=${LR:-1e-3} ;; esac
mkdir -p "$OUT"
COMMON=(--batch 64 --lr "$LR" --schedule cosine --lr-min 1e-5 --warmup "$WARMUP" --val-size 10000 --no-gif --quiet)
case "$CONFIG" in
  fm) DATA=$OUT/fm.h5; [ -f "$DATA" ] || "$NFLOW" data fashion-mnist --out "$DATA" >/dev/null
      ARCH=(--data "$DATA:/train/x" --val "$DATA:/test/x" --levels 2 --depth 8 --hidden 64 --steps 3000 --clip 5e4) ;;
  deep) DATA=$OUT/fm32.h5; [ -f "$DATA" ] || "$NFLOW" data fashion-mnist --pad32 --out "$DATA" >/dev/null
      ARCH=(--data "$DATA:/train/x" --val "$DATA:/test/x" --levels 3 --depth 32 --hidden 128 --steps 2000 --clip-rel "$CLIPREL") ;;
  seismic) DATA=$OUT/seismic.h5; [ -f "$DATA" ] || "$NFLOW" data seismic --n 20000 --size 32,32 --out "$DATA" >/dev/null
      ARCH=(--data "$DATA:/x" --levels 2 --depth 8 --hidden 64 --steps 2000 --clip-rel "$CLIPREL") ;;
  deep64) DATA=$OUT/fm.h5; [ -f "$DATA" ] || "$NFLOW" data fashion-mnist --out "$DATA" >/dev/null
      ARCH=(--data "$DATA:/train/x" --val "$DATA:/test/x" --levels 2 --depth 64 --hidden 64 --steps 2000 --clip-rel "$CLIPREL") ;;
  *) echo "rebuild_guard.sh: unknown config $CONFIG (fm|deep|seismic|deep64)" >&2; exit 2 ;;
esac

one() { # seed threads mode
  local dir=$OUT/s$1_t$2_$3 extra=()
  [ "$3" = store ] && extra=(--store-activations)
  if [ -f "$dir.rc" ]; then return; fi
  rm -rf "$dir"
  set +e
  # shellcheck disable=SC2086 # EXTRA is a list of flags
  "$NFLOW" train "${ARCH[@]}" "${COMMON[@]}" "${extra[@]}" $EXTRA --seed "$1" --threads "$2" --out "$dir" \
      >"$dir.log" 2>"$dir.err"
  echo $? >"$dir.rc"
  set -e
}
for t in $THREADS; do for s in $SEEDS; do for m in guard store; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 5; done
  one "$s" "$t" "$m" &
done; done; done
wait

/usr/bin/python3 - "$OUT" "$CONFIG" "$SEEDS" "$THREADS" <<'PY'
import csv, os, re, statistics, sys
out, config, seeds, threads = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split()
def run(s, t, m):
    d = os.path.join(out, f"s{s}_t{t}_{m}")
    r = {"rc": open(d + ".rc").read().strip() if os.path.exists(d + ".rc") else "-"}
    log = open(d + ".log").read() if os.path.exists(d + ".log") else ""
    err = open(d + ".err").read() if os.path.exists(d + ".err") else ""
    v = re.search(r"held-out objective on \d+ samples: \S+ \(bits/dim (-?[0-9.]+)\)", log)
    r["bpd"] = float(v.group(1)) if v else None
    r["rollbacks"] = err.count("rolled back") + err.count("stopping after")
    r["jumps"] = err.count("loss jumped")
    rows = []
    if os.path.exists(d + "/metrics.csv"):
        rows = [x for x in csv.DictReader(open(d + "/metrics.csv")) if x["loss"]]
    e = [float(x["rebuild_error"]) for x in rows if x.get("rebuild_error")]
    r["steps"] = len(rows)
    r["recomputed"] = sum(int(x["recomputed"]) for x in rows if x.get("recomputed"))
    r["err_med"] = statistics.median(e) if e else None
    r["err_max"] = max(e) if e else None
    r["time"] = float(rows[-1]["time_s"]) if rows else None
    r["clipped"] = sum(1 for x in rows if x.get("clip") and float(x["grad_norm"]) > float(x["clip"]))
    return r
f = lambda v, p="%.3g": "-" if v is None else p % v
lines = [f"# Rebuild guard acceptance: {config}", "",
         "| seed | threads | guard: exit, rollbacks, loss jumps | steps | recomputed | rebuild error median | max | clipped (guard / store) | store: exit, loss jumps | held-out bpd (guard) | (store) | difference | time s (guard / store) |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
runs = {(s, t, m): run(s, t, m) for s in seeds for t in threads for m in ("guard", "store")}
ok = True
for t in threads:
    for s in seeds:
        g, st = runs[s, t, "guard"], runs[s, t, "store"]
        diff = abs(g["bpd"] - st["bpd"]) if g["bpd"] is not None and st["bpd"] is not None else None
        good = g["rc"] == "0" and g["jumps"] == 0 and diff is not None and diff <= 0.05
        ok &= good
        lines.append(f"| {s} | {t} | {g['rc']}, {g['rollbacks']}, {g['jumps']} | {g['steps']} | {g['recomputed']} | "
                     f"{f(g['err_med'])} | {f(g['err_max'])} | {g['clipped']} / {st['clipped']} | {st['rc']}, {st['jumps']} | "
                     f"{f(g['bpd'], '%.4f')} | {f(st['bpd'], '%.4f')} | "
                     f"{f(diff, '%.4f')}{'' if good else ' **FAIL**'} | {f(g['time'], '%.0f')} / {f(st['time'], '%.0f')} |")
lines += ["", "Criteria: exit 0, no loss jump, held-out bits/dim within 0.05 of the --store-activations run.",
          "All runs pass." if ok else "Some runs FAIL (or have not run yet)."]
# How far float rounding alone moves a run: the same computation (guarded, or stored) at
# two thread counts differs only in the order of its sums. Beside it, guard - store.
bpd = {k: r["bpd"] for k, r in runs.items()}
same = [bpd[s, threads[0], m] - bpd[s, threads[1], m] for s in seeds for m in ("guard", "store")
        if len(threads) > 1 and None not in (bpd[s, threads[0], m], bpd[s, threads[1], m])]
gs = [bpd[s, t, "guard"] - bpd[s, t, "store"] for s in seeds for t in threads
      if None not in (bpd[s, t, "guard"], bpd[s, t, "store"])]
rms = lambda v: (sum(x * x for x in v) / len(v)) ** 0.5
if len(same) >= 2 and len(gs) >= 2:
    se = statistics.stdev(gs) / len(gs) ** 0.5
    lines += ["", f"Rounding noise: the same computation at {threads[0]} and {threads[1]} threads ends "
              f"{rms(same):.4f} apart (RMS of {len(same)} pairs, largest {max(map(abs, same)):.4f}); "
              f"guard - store: RMS {rms(gs):.4f} over {len(gs)} pairs, mean {statistics.mean(gs):+.4f} "
              f"(standard error {se:.4f}, positive = the guarded run worse)."]
open(os.path.join(out, "summary.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
sys.exit(0 if ok else 1)
PY
