#!/usr/bin/env bash
# The short version of tools/acceptance/seismic_posterior.sh (--quick: 16x16 patches at
# 0 dB, conditional Glow L=2 K=4 hidden 16, 300 steps, 8 held-out patches of 100 posterior
# samples): the pipeline runs end to end, the posterior mean beats y scaled by the best
# constant for each patch (an oracle no structure-blind denoiser beats) by 1 dB, and the
# central 90 % interval holds 80-99 % of the true pixels. The scoring is checked on known
# answers (its --self-test) and shown to fail: "samples" that are y itself, barely spread,
# score no better than y and cover almost nothing. nflow data seismic --snr is refused
# with a bad value. argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"
need_h5py
ACC=$(cd "$(dirname "$0")/../../tools/acceptance" && pwd)

/usr/bin/python3 "$ACC/seismic_posterior.py" --self-test >"$T/self.log" 2>&1 || fail "scoring self-test: $(cat "$T/self.log")"

bash "$ACC/seismic_posterior.sh" --quick --threads 1 --nflow "$B" --out "$T/acc" >"$T/log" 2>&1
[ -f "$T/acc/summary.md" ] || fail "seismic_posterior.sh --quick wrote no summary: $(tail -5 "$T/log")"
for i in 0 1; do PNG_KIND=image png "$T/acc/posterior_$i.png" >/dev/null || fail "posterior_$i.png"; done
grep -q "nflow train --data .* --cond " "$T/acc/summary.md" || fail "the summary lacks the training command"
# a second call reuses what the first made and still lists every command of the results
bash "$ACC/seismic_posterior.sh" --quick --threads 1 --nflow "$B" --out "$T/acc" >"$T/log2" 2>&1
grep -q "nflow train --data .* --cond .*# (made by an earlier call)" "$T/acc/summary.md" ||
    fail "the second call's summary lacks the training command: $(grep -A12 '^commands' "$T/acc/summary.md")"
[ "$(grep -c "sample --model .*# (made by an earlier call)" "$T/acc/commands.txt")" -eq 8 ] ||
    fail "the second call's commands.txt lacks the 8 sampling commands: $(cat "$T/acc/commands.txt")"

# sane(): the criteria above on a scores.json, one line saying why not
cat >"$T/sane.py" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
bad = []
if not s["snr_mean"] > s["snr_shrunk_y"] + 1:
    bad.append(f"posterior mean {s['snr_mean']:.2f} dB, not 1 dB above oracle-scaled y {s['snr_shrunk_y']:.2f} dB")
if not 0.8 <= s["coverage"] <= 0.99:
    bad.append(f"coverage {s['coverage']:.3f} outside 0.80-0.99")
print("; ".join(bad) or f"ok: {s['snr_mean']:.2f} dB (y {s['snr_y']:.2f}), coverage {s['coverage']:.3f}")
sys.exit(1 if bad else 0)
PY
/usr/bin/python3 "$T/sane.py" "$T/acc/scores.json" >"$T/sane.log" || fail "quick acceptance not sane: $(cat "$T/sane.log")"

# the same check on a posterior that only repeats the data must fail
/usr/bin/python3 - "$T" <<'PY' || fail "making the fake posteriors"
import h5py, numpy as np, sys
t = sys.argv[1]
r = np.random.default_rng(0)
with h5py.File(f"{t}/acc/test.h5", "r") as f:
    y = f["y"][()]
for i in range(4):
    with h5py.File(f"{t}/fake_{i}.h5", "w") as g:
        g["x"] = (y[i] + 1e-4 * r.standard_normal((50,) + y[i].shape)).astype(np.float32)
        g["x"].attrs["index"] = str(i)
        g["mean"] = y[i][None]
PY
/usr/bin/python3 "$ACC/seismic_posterior.py" --truth "$T/acc/test.h5" --posts "$T"/fake_{0,1,2,3}.h5 \
  --json "$T/fake.json" >/dev/null || fail "scoring the fake posteriors"
/usr/bin/python3 "$T/sane.py" "$T/fake.json" >"$T/fake.log" && fail "a posterior repeating y passed: $(cat "$T/fake.log")"
/usr/bin/python3 -c "import json, sys; s = json.load(open(sys.argv[1])); assert s['coverage'] < 0.05 and \
abs(s['snr_mean'] - s['snr_y']) < 0.01, s" "$T/fake.json" || fail "the fake posterior's scores are not y's"

expect 2 "snr" "$B" data seismic --n 4 --snr loud --out "$T/bad.h5"
"$B" data --help | grep -q -- "--snr DB" || fail "--snr missing from nflow data --help"
finish
