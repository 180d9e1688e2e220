#!/usr/bin/env bash
# The long banana target: the tutorial's Glow (hidden 16, L=1, K=10, no squeeze, batch
# 150, Adam 9e-4) trained for 4000 iterations = 10 epochs over 60 000 samples with a
# cosine learning-rate decay must reach a held-out objective <= 1.03 (best possible 1.0)
# on 100 000 fresh samples, averaged over seeds 1-3. About 3 s per seed on one core.
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"

sum=0
for seed in 1 2 3; do
  out="$T/s$seed"
  "$B" train --data toy:banana --squeeze none --levels 1 --depth 10 --hidden 16 --batch 150 --lr 9e-4 \
      --schedule cosine --epochs 10 --seed "$seed" --threads 1 --no-plots --no-gif --quiet --out "$out" \
      >"$T/log" 2>&1 || { fail "seed $seed: train failed: $(tail -3 "$T/log")"; continue; }
  grep -q "4000 steps (10 epochs)" "$T/log" || fail "seed $seed: not 4000 steps: $(head -3 "$T/log")"
  [ "$(grep -c '^validation after step' "$T/log")" -eq 10 ] || fail "seed $seed: expected a validation per epoch"
  obj=$(heldout_banana "$out/model.h5" 100000 $((2000 + seed))) || { fail "seed $seed: eval failed"; continue; }
  echo "seed $seed: held-out objective $obj"
  sum=$(/usr/bin/python3 -c "print($sum + $obj)")
done
mean=$(/usr/bin/python3 -c "print($sum / 3)")
echo "mean held-out objective after 4000 iterations: $mean (target <= 1.03)"
/usr/bin/python3 -c "import sys; sys.exit(0 if 0.95 <= $mean <= 1.03 else 1)" || fail "mean objective $mean not in [0.95, 1.03]"

finish
