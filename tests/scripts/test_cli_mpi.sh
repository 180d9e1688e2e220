#!/usr/bin/env bash
# nflow train under mpirun (2 ranks, oversubscribed): one model trained from every rank's
# share, files from rank 0 only, bit-for-bit repeatable, resumable bit for bit under the
# same number of ranks and refused under another, HDF5 data read in shares, and a rank
# whose read fails ends the whole job within seconds with its rank named, leaving the
# last checkpoint resumable. Skipped (77) when the build has no MPI.
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"

if ! grep -q '^NFLOW_MPI:BOOL=ON' "$1/CMakeCache.txt" 2>/dev/null || ! command -v mpirun >/dev/null; then
  # a build without MPI started as one of several ranks (srun's variable) refuses to train
  # the same model several times over
  SLURM_STEP_NUM_TASKS=2 "$B" train --data toy:banana --squeeze none --levels 1 --depth 2 --hidden 8 --steps 3 \
    --no-plots --no-gif --quiet --out "$T/x" >/dev/null 2>"$T/x.err"; rc=$?
  if [ $rc -ne 2 ] || ! grep -q "launched as 2 ranks (mpirun/srun), but this nflow was built without MPI" "$T/x.err" ||
     [ -e "$T/x" ]; then
    echo "FAIL: a 2-rank launch of a build without MPI: exit $rc, $(cat "$T/x.err")"
    exit 1
  fi
  echo "SKIPPED: this build has no MPI (configure with -DNFLOW_MPI=ON; apt-get install openmpi-bin libopenmpi-dev)"
  exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1
# sanitizer builds: Open MPI's allocations kept until exit are not nflow's (tests/mpi/lsan.supp);
# full stacks are needed to see them through its plugins
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
# (the runs here draw no pictures, so PLplot's suppressions in cli_lsan.supp are not needed)
export LSAN_OPTIONS="print_suppressions=0:suppressions=$(cd "$(dirname "$0")/../mpi" && pwd)/lsan.supp"
MPI=(mpirun -n 2 --oversubscribe --bind-to none)
heldout() { sed -n 's/^held-out objective on [0-9]* samples: \([-0-9.]*\).*/\1/p' "$1"; } # rank 0's held-out line
BASE=(--data toy:banana --train-size 6000 --squeeze none --levels 1 --depth 4 --hidden 16 --batch 64 --lr 2e-3
      --seed 2 --threads 1 --no-plots --no-gif --quiet)
ARGS=("${BASE[@]}" --steps 200 --checkpoint-every 20)

# two ranks train one model; rank 0 alone writes
"${MPI[@]}" "$B" train "${ARGS[@]}" --out "$T/a" >"$T/a.log" 2>&1 || { cat "$T/a.log"; fail "2-rank run failed"; }
[ -f "$T/a/model.h5" ] && [ -f "$T/a/checkpoint.h5" ] && [ -f "$T/a/metrics.csv" ] || fail "2-rank run wrote no model/checkpoint/metrics"
grep -q "2 MPI ranks" "$T/a.log" || fail "banner does not say 2 MPI ranks: $(head -5 "$T/a.log")"
[ "$(grep -c '^held-out objective' "$T/a.log")" -eq 1 ] || fail "expected one held-out line (rank 0's): $(grep held-out "$T/a.log")"
grep -q "rank 1" "$T/a.log" && fail "rank 1 wrote output: $(grep 'rank 1' "$T/a.log")"
ok

# repeatable bit for bit (fixed-order sums), and the model trained: held-out better than at the start
"${MPI[@]}" "$B" train "${ARGS[@]}" --out "$T/b" >"$T/b.log" 2>&1 || fail "second 2-rank run failed"
cmp -s "$T/a/model.h5" "$T/b/model.h5" || fail "two 2-rank runs of the same seed differ"
v=$(heldout "$T/a.log")
/usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 2.2 else 1)" "$v" || fail "held-out objective $v: not trained"
ok

# the gradient summed in 100-value buckets while the backward runs, or once after it: the
# same model, bit for bit; the summary says how long rank 0 waited after the backward
"${MPI[@]}" "$B" train "${ARGS[@]}" --mpi-bucket 100 --out "$T/o" >"$T/o.log" 2>&1 || fail "overlapped run failed"
"${MPI[@]}" "$B" train "${ARGS[@]}" --mpi-bucket 0 --out "$T/p" >"$T/p.log" 2>&1 || fail "--mpi-bucket 0 run failed"
cmp -s "$T/a/model.h5" "$T/o/model.h5" || fail "100-value buckets changed the model"
cmp -s "$T/a/model.h5" "$T/p/model.h5" || fail "the sum after the backward (--mpi-bucket 0) changed the model"
grep -q "waiting for gradient sums after the backward (overlap on)" "$T/o.log" || fail "summary: $(grep '^MPI' "$T/o.log")"
grep -q "(overlap off, --mpi-bucket 0)" "$T/p.log" || fail "summary: $(grep '^MPI' "$T/p.log")"
ok

# stopped after 100 steps and resumed under 2 ranks: the same model as the run never stopped
"${MPI[@]}" "$B" train "${ARGS[@]}" --stop-after 100 --out "$T/c" >"$T/c.log" 2>&1 || fail "stopped run failed"
"${MPI[@]}" "$B" train --resume "$T/c/checkpoint.h5" --quiet >"$T/c2.log" 2>&1 || { cat "$T/c2.log"; fail "2-rank resume failed"; }
grep -q "at step 100 of 200" "$T/c2.log" || fail "resume banner: $(grep resuming "$T/c2.log")"
cmp -s "$T/a/model.h5" "$T/c/model.h5" || fail "the resumed 2-rank run differs from the uninterrupted one"
ok

# ... and refused under another number of ranks (the shares depend on it)
expect 2 "written by a run of 2 ranks and this one has 1" "$B" train --resume "$T/c/checkpoint.h5" --stop-after 1

# a global batch smaller than the ranks
"${MPI[@]}" "$B" train --data toy:banana --squeeze none --levels 1 --depth 2 --hidden 8 --steps 5 --batch 1 \
  --threads 1 --out "$T/d" >"$T/d.log" 2>&1 && fail "--batch 1 on 2 ranks was accepted"
grep -q -- "--batch 1 is smaller than the 2 ranks" "$T/d.log" || fail "--batch 1: $(grep nflow "$T/d.log" | head -2)"
ok

# HDF5 images: each rank opens the file and reads its share by hyperslab
"$B" data seismic --n 512 --size 16,16 --seed 1 --out "$T/s.h5" >/dev/null 2>&1 || fail "nflow data seismic"
"${MPI[@]}" "$B" train --data "$T/s.h5:/x" --levels 2 --depth 2 --hidden 8 --batch 16 --steps 30 --seed 1 --threads 1 \
  --no-plots --no-gif --quiet --out "$T/e" >"$T/e.log" 2>&1 || { cat "$T/e.log"; fail "2-rank HDF5 run failed"; }
grep -q "^held-out objective" "$T/e.log" || fail "2-rank HDF5 run: no held-out line"
ok

# rank 1's read fails at step 50: every rank stops within seconds, rank 1 named; the checkpoint of step 40 resumes
start=$(date +%s)
NFLOW_DEBUG_FAIL=1:50 timeout 120 "${MPI[@]}" -x NFLOW_DEBUG_FAIL "$B" train "${ARGS[@]}" --out "$T/f" >"$T/f.log" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "the failed read ended with rc $rc"
[ $took -le 60 ] || fail "the job took $took s to stop"
grep -q "nflow train (rank 1): reading a batch" "$T/f.log" || fail "rank 1's message: $(grep nflow "$T/f.log" | head -3)"
grep -q "nflow train: rank 1 failed" "$T/f.log" || fail "rank 0 does not name rank 1: $(grep nflow "$T/f.log" | head -3)"
"${MPI[@]}" "$B" train --resume "$T/f/checkpoint.h5" --quiet >"$T/f2.log" 2>&1 || { cat "$T/f2.log"; fail "resume after the fault failed"; }
grep -q "at step 40 of 200" "$T/f2.log" || fail "resume after the fault: $(grep resuming "$T/f2.log")"
cmp -s "$T/a/model.h5" "$T/f/model.h5" || fail "the run resumed after the fault differs from the uninterrupted one"
ok

# kill -9 of one rank mid-run: the job ends non-zero within 30 s, the last checkpoint
# loads, and the resumed 2-rank run ends bit-identical to an uninterrupted one
LONG=("${BASE[@]}" --steps 1500 --checkpoint-every 100)
"${MPI[@]}" "$B" train "${LONG[@]}" --out "$T/g" >"$T/g.log" 2>&1 || fail "the uninterrupted long run failed"
"${MPI[@]}" "$B" train "${LONG[@]}" --out "$T/k" >"$T/k.log" 2>&1 &
PID=$!
for _ in $(seq 600); do
  [ -f "$T/k/checkpoint.h5" ] && [ "$(wc -l <"$T/k/metrics.csv" 2>/dev/null || echo 0)" -gt 300 ] && break
  sleep 0.1
done
victim=$(pgrep -P $PID -f "nflow train" | tail -1)
if [ -z "$victim" ]; then
  fail "no rank process found under mpirun $PID"
else
  start=$(date +%s)
  kill -9 "$victim"
  for _ in $(seq 300); do kill -0 $PID 2>/dev/null || break; sleep 0.1; done
  took=$(( $(date +%s) - start ))
  if kill -0 $PID 2>/dev/null; then fail "mpirun still running 30 s after a rank was killed"; kill -9 $PID; fi
  wait $PID; rc=$?
  PID=""
  [ $rc -ne 0 ] || fail "the job with a killed rank exited 0"
  [ $took -le 30 ] || fail "the job took $took s to end after a rank was killed"
  "${MPI[@]}" "$B" train --resume "$T/k/checkpoint.h5" --quiet >"$T/k2.log" 2>&1 || { cat "$T/k2.log"; fail "resume after kill -9 failed"; }
  cmp -s "$T/g/model.h5" "$T/k/model.h5" || fail "the run resumed after kill -9 differs from the uninterrupted one"
fi
ok

# a conditional Glow (--cond) on two ranks: each rank reads x and y from the same rows, so
# y still tells about x. Seismic 8x8 patches observed at 20 dB: the 2-rank conditional run
# reached -81.5 to -82.2 held-out (seeds 1-3) where the unconditional one reached -37.6 to
# -39.9, which is also what a y paired with other rows' x would give; then two ranks'
# conditional runs are repeatable bit for bit, and the model draws posterior samples.
"$B" data seismic --n 600 --size 8,8 --snr 20 --seed 1 --out "$T/pairs.h5" >/dev/null || fail "nflow data seismic"
COND=(--data "$T/pairs.h5:/x" --cond "$T/pairs.h5:/y" --levels 1 --depth 4 --hidden 16 --batch 32 --steps 120 --lr 2e-3
      --seed 1 --threads 1 --no-plots --no-gif --quiet)
"${MPI[@]}" "$B" train "${COND[@]}" --out "$T/c" >"$T/c.log" 2>&1 || { cat "$T/c.log"; fail "2-rank --cond run failed"; }
v=$(heldout "$T/c.log")
/usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < -60 else 1)" "$v" ||
    fail "2-rank conditional run: held-out $v, not below -60 (y does not inform x: pairs mixed up across ranks?)"
"${MPI[@]}" "$B" train "${COND[@]}" --out "$T/c2" >"$T/c2.log" 2>&1 || fail "second 2-rank --cond run failed"
cmp -s "$T/c/model.h5" "$T/c2/model.h5" || fail "two 2-rank --cond runs of the same seed differ"
"$B" sample --model "$T/c/model.h5" --cond "$T/pairs.h5:/y" --index 3 --n 20 --out "$T/post.h5" >/dev/null 2>"$T/post.err" ||
    fail "posterior samples from the 2-rank model: $(cat "$T/post.err")"
ok

# a sequential flow whose layer carries its own y lane (cond_hint_conv: x and y transformed
# jointly, dloss/dy summed inside the layer) on two ranks: bit-for-bit repeatable, and as
# good on held-out pairs as one rank on the same batches: the objective (-log p(x, y) less
# x's Gaussian constant) is 65.0 untrained and 39.2 for the exact density; the same 150
# steps reach 41.46 on one rank and 41.37 on two
/usr/bin/python3 - "$T" <<'PY' || fail "making 2-channel pairs"
import h5py, numpy as np, sys
r = np.random.default_rng(0)
x = r.standard_normal((2048, 2, 4, 4)).astype(np.float32)
with h5py.File(f"{sys.argv[1]}/p2.h5", "w") as f:
    f["x"], f["y"] = x, (x + 0.5 * r.standard_normal(x.shape)).astype(np.float32)
PY
HC=(--data "$T/p2.h5:/x" --cond /y --flow sequential --spec "actnorm, cond_hint_conv(hidden=8,steps=2)" --batch 32
    --steps 150 --lr 3e-3 --seed 1 --threads 1 --no-plots --no-gif --quiet)
"${MPI[@]}" "$B" train "${HC[@]}" --out "$T/h" >"$T/h.log" 2>&1 || { cat "$T/h.log"; fail "2-rank cond_hint_conv run failed"; }
"${MPI[@]}" "$B" train "${HC[@]}" --out "$T/h2" >"$T/h2.log" 2>&1 || fail "second 2-rank cond_hint_conv run failed"
cmp -s "$T/h/model.h5" "$T/h2/model.h5" || fail "two 2-rank cond_hint_conv runs of the same seed differ"
"$B" train "${HC[@]}" --out "$T/h1" >"$T/h1.log" 2>&1 || fail "1-rank cond_hint_conv run failed"
v2=$(heldout "$T/h.log")
v1=$(heldout "$T/h1.log")
/usr/bin/python3 -c "import sys; a, b = map(float, sys.argv[1:]); sys.exit(0 if abs(a - b) < 1.0 and a < 50 else 1)" "$v2" "$v1" ||
    fail "cond_hint_conv held-out: 2 ranks $v2, 1 rank $v1"
"$B" sample --model "$T/h/model.h5" --cond "$T/p2.h5:/y" --index 3 --n 20 --out "$T/hpost.h5" >/dev/null 2>"$T/hpost.err" ||
    fail "posterior samples from the 2-rank cond_hint_conv model: $(cat "$T/hpost.err")"
ok

finish
