#!/bin/bash
# Acceptance run of issue 6: the ADCME two-moons flows trained by nflow
# (tools/examples/vec_moons.c) and by the same flows in PyTorch (moons_reference.py)
# from the same initial parameters on the same batches: batch 128, Adam 1e-4,
# 10 000 iterations by default. Prints both held-out NLLs (nats per point, the full
# density, on 2048 fresh points) per seed and their means per flow, and fails if the
# means differ by more than 0.05 nats.
#   tools/torch/moons_compare.sh BUILD_DIR [iterations=10000] [outdir=moons_compare]
#   environment: SEEDS="1 2 3" (default "1"), FLOWS="realnvp realnvp_clamp2 maf spline"
# Flows: realnvp (the tutorial's 9 couplings, unbounded exp scale), realnvp_clamp2 (the
# same with the log-scale soft-clamped to +-2), maf (4 MAF layers), spline (3 x actnorm,
# LU linear, 2 spline couplings).
# MAF and spline training is stable: nflow and PyTorch end within ~0.005 nats.
# RealNVP's is chaotic: the two agree to 1e-4 for the first few hundred steps, then
# float rounding grows (a 1e-7 change of nflow's own initial parameters, vec_moons'
# jitter, moves its final NLL by up to 0.15), so only means over seeds compare. The
# unclamped recipe also blows up now and then (a step's loss ~1e15: an outlier meets
# an exp(s) of ~1e7), in either framework at chaotic moments; a seed where both blow
# up in the same 1000-step window is reported and left out of the means.
# Results (seed 1 for maf/spline, seeds 1-6 for realnvp_clamp2, 10 000 steps):
#   maf -0.1593 vs -0.1632, spline -0.3357 vs -0.3411,
#   realnvp_clamp2 mean 0.0264 vs 0.0504 (per seed -0.16 .. +0.05).
# BUILD_DIR holds vec_moons (cmake --build BUILD_DIR --target vec_moons). Needs
# /usr/bin/python3 with Debian's python3-torch and python3-numpy. PyTorch takes ~3
# minutes per RealNVP run on one core; not part of ctest (tests/scripts/test_vec_moons.sh
# is the 200-step version).
set -euo pipefail
build=${1:?usage: moons_compare.sh BUILD_DIR [iterations] [outdir]}
iters=${2:-10000}
out=${3:-moons_compare}
seeds=${SEEDS:-1}
flows=${FLOWS:-realnvp realnvp_clamp2 maf spline}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
# the first 1000-step window whose mean training loss exceeds 1000 (empty if none)
blowup() { awk '/^iteration/ { gsub(":", "", $2); if ($NF + 0 > 1000) { print $2; exit } }' "$1"; }
status=0
printf '%-15s %5s %10s %10s %10s\n' flow seed nflow pytorch difference
for flow in $flows; do
    sa=0 sb=0 k=0
    for seed in $seeds; do
        dir="$out/seed$seed"
        mkdir -p "$dir"
        OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$build/vec_moons" "$flow" "$dir" "$iters" "$seed" > "$dir/${flow}_nflow.log"
        /usr/bin/python3 "$here/moons_reference.py" "$flow" "$dir" > "$dir/${flow}_torch.log"
        a=$(cat "$dir/${flow}_nflow.txt") b=$(cat "$dir/${flow}_torch.txt")
        ba=$(blowup "$dir/${flow}_nflow.log") bb=$(blowup "$dir/${flow}_torch.log")
        note=""
        if [ -n "$ba$bb" ]; then note="blew up: nflow at ${ba:-never}, PyTorch at ${bb:-never}"; fi
        if [ -n "$ba" ] && [ "$ba" = "$bb" ]; then
            note="$note (same window: left out)"
        else
            sa=$(awk -v s="$sa" -v v="$a" 'BEGIN { print s + v }') sb=$(awk -v s="$sb" -v v="$b" 'BEGIN { print s + v }')
            k=$((k + 1))
        fi
        awk -v f="$flow" -v s="$seed" -v a="$a" -v b="$b" -v n="$note" \
            'BEGIN { printf "%-15s %5s %10.4f %10.4f %10.4f  %s\n", f, s, a, b, a - b, n }'
    done
    if [ $k -gt 0 ]; then
        line=$(awk -v f="$flow" -v a="$sa" -v b="$sb" -v k="$k" 'BEGIN { d = (a - b) / k; e = d < 0 ? -d : d;
            printf "%-15s %5s %10.4f %10.4f %10.4f  %s", f, "mean", a / k, b / k, d, e <= 0.05 ? "ok" : "TOO FAR" }')
        echo "$line"
        case $line in *"TOO FAR"*) status=1 ;; esac
    fi
done
echo "(held-out NLL in nats per point on 2048 points of sample_moons; logs in $out/seed*/)"
exit $status
