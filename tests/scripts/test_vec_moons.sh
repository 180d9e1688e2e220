#!/usr/bin/env bash
# Short version of the two-moons acceptance (tools/torch/moons_compare.sh runs the full
# 10 000 steps): nflow's RealNVP, MAF and spline flows (tools/examples/vec_moons.c)
# and the same flows in PyTorch (tools/torch/moons_reference.py) train 200 steps at the
# tutorial's lr 1e-4 from the same initial parameters on the same batches; their
# held-out NLLs must agree within 0.005 nats (they agree to ~1e-4: float rounding is
# all that differs), and nflow's must have fallen by 0.05 from the start. Without
# python3-torch only nflow's side runs (and says so).
# argv[1] = build directory; NFLOW_SOURCE_DIR = source directory.
set -u
build="${1:?build dir}"
src="${NFLOW_SOURCE_DIR:?NFLOW_SOURCE_DIR not set}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
torch=1
/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null || { torch=0; echo "python3-torch missing: nflow side only"; }
fails=0
for flow in realnvp maf spline; do
  "$build/vec_moons" "$flow" "$T" 1 3 1e-4 >"$T/start.log" 2>&1 || { echo "FAIL: $flow: $(cat "$T/start.log")"; fails=$((fails + 1)); continue; }
  start=$(cat "$T/${flow}_nflow.txt")
  "$build/vec_moons" "$flow" "$T" 200 3 1e-4 >"$T/nflow.log" 2>&1 || { echo "FAIL: $flow: $(cat "$T/nflow.log")"; fails=$((fails + 1)); continue; }
  a=$(cat "$T/${flow}_nflow.txt")
  awk -v a="$a" -v s="$start" 'BEGIN { exit !(a < s - 0.05) }' || { echo "FAIL: $flow: held-out NLL $start -> $a"; fails=$((fails + 1)); }
  if [ $torch -eq 1 ]; then
    /usr/bin/python3 "$src/tools/torch/moons_reference.py" "$flow" "$T" 1e-4 >"$T/torch.log" 2>&1 || { echo "FAIL: $flow: torch: $(tail -3 "$T/torch.log")"; fails=$((fails + 1)); continue; }
    b=$(cat "$T/${flow}_torch.txt")
    awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.005) }' || { echo "FAIL: $flow: nflow $a vs PyTorch $b"; fails=$((fails + 1)); }
    echo "$flow: held-out NLL $start -> $a (PyTorch $b)"
  else
    echo "$flow: held-out NLL $start -> $a"
  fi
done
exit $fails
