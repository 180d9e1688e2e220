#!/usr/bin/env bash
# Acceptance: the banana run of the InvertibleNetworks.jl tutorial through the nflow
# command. Glow with 2 channels, hidden 16, L=1, K=10, no squeeze, batch 150, Adam lr
# 9e-4, 400 iterations over 60 000 samples. The best possible expected objective is 1.0
# (the banana is a volume-preserving map of N(0, I)); the tutorial ends near 1.16. The
# held-out objective on 10 000 fresh samples (nflow eval), averaged over seeds 1-3, must be
# <= 1.10. Also checks what a run leaves behind: metrics rows for every step, a model
# file that h5py reads, the loss falling in the log.
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"

sum=0
for seed in 1 2 3; do
  out="$T/s$seed"
  "$B" train --data toy:banana --train-size 60000 --squeeze none --levels 1 --depth 10 --hidden 16 \
      --batch 150 --lr 9e-4 --steps 400 --seed "$seed" --threads 1 --no-plots --no-gif \
      --log-every 50 --out "$out" >"$T/log$seed" 2>"$T/err$seed"
  rc=$?
  [ $rc -eq 0 ] || { fail "seed $seed: train exited $rc: $(cat "$T/err$seed")"; continue; }
  [ -s "$T/err$seed" ] && fail "seed $seed: train wrote to stderr: $(cat "$T/err$seed")"
  # plain log lines (not a terminal): first, every 50th, last
  n=$(grep -c '^step [0-9]*/400 ' "$T/log$seed")
  [ "$n" -eq 9 ] || fail "seed $seed: expected 9 log lines (steps 1, 50, ..., 400), got $n"
  # 400 metric rows + 1 validation row, with the loss falling by > 1 nat
  rows=$(tail -n +2 "$out/metrics.csv" | awk -F, '$3 != ""' | wc -l)
  [ "$rows" -eq 400 ] || fail "seed $seed: metrics.csv has $rows step rows, expected 400"
  [ "$(grep -c '"type":"step"' "$out/metrics.jsonl")" -eq 400 ] || fail "seed $seed: metrics.jsonl step lines"
  awk -F, 'NR > 1 && $3 != "" { if (NR <= 11) a += $3; if (NR > 391) b += $3 } END { exit !(a / 10 - b / 10 > 1.0) }' \
      "$out/metrics.csv" || fail "seed $seed: the loss did not fall by 1 nat from the first to the last 10 steps"
  /usr/bin/python3 -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r'); assert len(f.keys()) > 0" "$out/model.h5" ||
      fail "seed $seed: model.h5 is not readable by h5py"
  # held-out: 10 000 fresh samples drawn with a seed the training never used
  obj=$(heldout_banana "$out/model.h5" 10000 $((1000 + seed))) || { fail "seed $seed: eval failed"; continue; }
  echo "seed $seed: held-out objective $obj"
  sum=$(/usr/bin/python3 -c "print($sum + $obj)")
done
mean=$(/usr/bin/python3 -c "print($sum / 3)")
echo "mean held-out objective over 3 seeds after 400 iterations: $mean (target <= 1.10, best possible 1.0)"
/usr/bin/python3 -c "import sys; sys.exit(0 if 0.9 <= $mean <= 1.10 else 1)" || fail "mean objective $mean not in [0.9, 1.10]"

finish
