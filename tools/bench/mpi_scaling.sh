#!/usr/bin/env bash
# Weak scaling of data-parallel training (docs/cluster.md): the same per-rank batch on
# 1, 2, ... ranks (global batch = per-rank batch x ranks), one nflow train per rank count,
# the median seconds per step over the steps after a warm-up, samples per second and the
# efficiency t(1) / t(R) (1.0 = perfect weak scaling), and what rank 0 spent in MPI per step
# (all calls; and of it, waiting for gradient sums after the backward: what overlap did
# not hide; --extra "--mpi-bucket 0" turns overlap off).
#
#   tools/bench/mpi_scaling.sh [--ranks "1 2"] [--threads T] [--per-rank B] [--steps N]
#       [--data SPEC] [--nflow PATH] [--extra "FLAGS"]
#
# Defaults: ranks "1 2", 1 thread per rank, 32 samples per rank, 60 steps, synthetic
# seismic 1x32x32 images (generated once), the B1 Glow (L=3 K=32 hidden 64; --arch
# "FLAGS" replaces it); needs a -DNFLOW_MPI=ON build.
set -euo pipefail
cd "$(dirname "$0")/../.."
RANKS="1 2" THREADS=1 PER=32 STEPS=60 DATA="" NFLOW=build/nflow EXTRA="" ARCH="--levels 3 --depth 32 --hidden 64"
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) RANKS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --per-rank) PER=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --data) DATA=$2; shift 2 ;;
    --nflow) NFLOW=$2; shift 2 ;;
    --extra) EXTRA=$2; shift 2 ;;
    --arch) ARCH=$2; shift 2 ;;
    -h|--help) sed -n 2,16p "$0"; exit 0 ;;
    *) echo "mpi_scaling.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
if [ -z "$DATA" ]; then
  "$NFLOW" data seismic --n 4096 --size 32,32 --seed 1 --out "$W/s.h5" >/dev/null
  DATA="$W/s.h5:/x"
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
printf "| ranks | threads/rank | global batch | s/step (median) | samples/s | efficiency | MPI ms/step | waiting after backward ms/step |\n|---|---|---|---|---|---|---|---|\n"
base=""
for R in $RANKS; do
  B=$((PER * R))
  # shellcheck disable=SC2086 # EXTRA and ARCH are lists of flags
  mpirun -n "$R" --oversubscribe --bind-to none -x OMP_NUM_THREADS="$THREADS" "$NFLOW" train --data "$DATA" \
    --val none $ARCH --batch "$B" --steps "$STEPS" --threads "$THREADS" --seed 1 \
    --no-plots --no-gif --quiet $EXTRA --out "$W/r$R" >"$W/r$R.log" 2>&1 || { cat "$W/r$R.log"; exit 1; }
  t=$(/usr/bin/python3 - "$W/r$R/metrics.csv" <<'PY'
import csv, statistics, sys
t = [float(r["time_s"]) for r in csv.DictReader(open(sys.argv[1])) if r["time_s"]]
d = [b - a for a, b in zip(t, t[1:])][len(t) // 5:]   # after a warm-up fifth
print(f"{statistics.median(d):.4f}")
PY
)
  base=${base:-$t}
  # "MPI: 2 ranks; rank 0 spent X ms per step in MPI calls (...); Y ms of it waiting ..."
  mpi=$(sed -n 's/^MPI: .* spent \([0-9.]*\) ms per step.*; \([0-9.]*\) ms of it waiting.*/\1 | \2/p' "$W/r$R.log")
  /usr/bin/python3 -c "import sys; R,B,t,b,T,m=int(sys.argv[1]),int(sys.argv[2]),float(sys.argv[3]),float(sys.argv[4]),sys.argv[5],sys.argv[6]; print(f'| {R} | {T} | {B} | {t:.4f} | {B/t:.0f} | {b/t:.2f} | {m} |')" "$R" "$B" "$t" "$base" "$THREADS" "${mpi:-- | -}"
done
