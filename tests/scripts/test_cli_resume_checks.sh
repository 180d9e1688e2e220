#!/usr/bin/env bash
# --resume refuses what it cannot continue honestly, with one line and exit 3: data that
# changed since the checkpoint (fewer samples, the same size with other values, one value
# of one sample, a toy set of another size), unless --allow-data-change says it is on
# purpose; and a checkpoint of another architecture placed in a run directory (checked
# against the directory's args.txt), which must not overwrite that run's model.h5.
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"

D="$T/seis.h5"
mkdata() { "$B" data seismic --n "$1" --size 8,8 --seed "$2" --out "$D" >/dev/null || { echo "FAIL: data"; exit 1; }; }
IMG=(--levels 1 --depth 1 --hidden 4 --batch 16 --threads 1 --no-plots --no-gif --quiet)
mkdata 64 2
"$B" train --data "$D:/x" "${IMG[@]}" --steps 4 --out "$T/run" >/dev/null 2>&1 || { echo "FAIL: image run"; exit 1; }
cp "$T/run/checkpoint.h5" "$T/ckpt.keep"
# the checkpoint's training_data group is what datasets/MODEL_FORMAT.md says
/usr/bin/python3 - "$D" "$T/run/checkpoint.h5" <<'PY' && ok || fail "training_data does not follow MODEL_FORMAT.md"
import sys, zlib, h5py
with h5py.File(sys.argv[1], "r") as d, h5py.File(sys.argv[2], "r") as c:
    x, g = d["x"], c["training_data"].attrs
    N = x.shape[0]; k = min(N, 64)
    idx = [int(i * (N - 1) / (k - 1) + 0.5) for i in range(k)] if k > 1 else [0]
    crc = zlib.crc32(b"".join(x[i].astype(x.dtype.newbyteorder("<")).tobytes() for i in idx))
    want = {"shape": list(x.shape), "dtype": str(x.dtype), "crc32_samples": k, "crc32": crc}
    got = {"shape": list(g["shape"]), "dtype": g["dtype"].decode() if isinstance(g["dtype"], bytes) else g["dtype"],
           "crc32_samples": int(g["crc32_samples"]), "crc32": int(g["crc32"])}
    src = g["source"].decode() if isinstance(g["source"], bytes) else g["source"]
    assert got == want and src.endswith("seis.h5:/x"), (got, want, src)
PY
CHANGED="^nflow train: the data changed since $T/run/checkpoint.h5 was written: .*--allow-data-change"

# the same data resumes
"$B" train --resume "$T/run/checkpoint.h5" --steps 5 --quiet >"$T/log" 2>&1 && ok || fail "resume on the same data: $(tail -2 "$T/log")"
cp "$T/ckpt.keep" "$T/run/checkpoint.h5"

# fewer samples
mkdata 48 2
expect 3 "$CHANGED" "$B" train --resume "$T/run/checkpoint.h5" --steps 6
grep -q "48x1x8x8 samples" "$T/err" || fail "the message does not give the new shape: $(cat "$T/err")"
# more samples
mkdata 80 2
expect 3 "$CHANGED" "$B" train --resume "$T/run/checkpoint.h5" --steps 6
# same size, other values
mkdata 64 3
expect 3 "${CHANGED/: \./: .*other values.*}" "$B" train --resume "$T/run/checkpoint.h5" --steps 6
# one value of the first sample (always among the sampled ones)
mkdata 64 2
/usr/bin/python3 - "$D" <<'PY' || fail "h5py edit"
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    x = f["x"]
    v = x[0, 0, 3, 3]
    x[0, 0, 3, 3] = v + 1 if v < 100 else v - 1
PY
expect 3 "$CHANGED" "$B" train --resume "$T/run/checkpoint.h5" --steps 6
cmp -s "$T/ckpt.keep" "$T/run/checkpoint.h5" || fail "a refused resume changed the checkpoint"
# on purpose
"$B" train --resume "$T/run/checkpoint.h5" --steps 6 --allow-data-change --quiet >"$T/log" 2>&1 && ok ||
  fail "--allow-data-change: $(tail -2 "$T/log")"
# the new checkpoint records the new data: resuming again needs no flag
"$B" train --resume "$T/run/checkpoint.h5" --steps 7 --quiet >"$T/log" 2>&1 && ok ||
  fail "resume after --allow-data-change: $(tail -2 "$T/log")"

# a toy set is made from the seed and --train-size: another size is other data
TOY=(--data toy:banana --squeeze none --levels 1 --depth 2 --hidden 8 --batch 50 --train-size 1000 --threads 1
     --no-plots --no-gif --quiet)
"$B" train "${TOY[@]}" --steps 3 --out "$T/toy" >/dev/null 2>&1 || { echo "FAIL: toy run"; exit 1; }
expect 3 "^nflow train: the data changed since $T/toy/checkpoint.h5.*500x2 samples" \
  "$B" train --resume "$T/toy/checkpoint.h5" --train-size 500 --steps 4
"$B" train --resume "$T/toy/checkpoint.h5" --steps 4 --quiet >"$T/log" 2>&1 && ok || fail "toy resume: $(tail -2 "$T/log")"

# a checkpoint of another architecture in a run directory
"$B" train --data "$D:/x" --levels 1 --depth 2 --hidden 6 --batch 16 --threads 1 --no-plots --no-gif --quiet \
  --steps 2 --out "$T/other" >/dev/null 2>&1 || { echo "FAIL: second image run"; exit 1; }
cp "$T/run/model.h5" "$T/model.keep"
cp "$T/other/checkpoint.h5" "$T/run/checkpoint.h5"
expect 3 "^nflow train: $T/run/checkpoint.h5 is not this run's checkpoint: it holds a glow L=1 K=2 hidden 6.*args.txt beside it a glow L=1 K=1 hidden 4" \
  "$B" train --resume "$T/run/checkpoint.h5" --steps 20
cmp -s "$T/model.keep" "$T/run/model.h5" || fail "a foreign checkpoint overwrote the run's model.h5"
# a checkpoint that differs only where args.txt gives no flag: the run's model.h5 tells
cp "$T/ckpt.keep" "$T/run/checkpoint.h5"
"$B" train --data "$D:/x" "${IMG[@]}" --coupling additive --steps 2 --out "$T/additive" >/dev/null 2>&1 ||
  { echo "FAIL: additive run"; exit 1; }
cp "$T/additive/checkpoint.h5" "$T/run/checkpoint.h5"
expect 3 "^nflow train: $T/run/checkpoint.h5 is not this run's checkpoint: it holds a glow .*additive.*the run's $T/run/model.h5 a glow .*affine" \
  "$B" train --resume "$T/run/checkpoint.h5" --steps 20
cmp -s "$T/model.keep" "$T/run/model.h5" || fail "a foreign checkpoint overwrote the run's model.h5"
# the same with learned priors: the prior is part of the architecture
"$B" train --data "$D:/x" "${IMG[@]}" --learn-prior --steps 2 --out "$T/prior" >/dev/null 2>&1 ||
  { echo "FAIL: learned-prior run"; exit 1; }
cp "$T/prior/checkpoint.h5" "$T/run/checkpoint.h5"
expect 3 "^nflow train: $T/run/checkpoint.h5 is not this run's checkpoint: it holds a glow .*learned prior.*the run's $T/run/model.h5 a glow .*N\(0, I\) prior" \
  "$B" train --resume "$T/run/checkpoint.h5" --steps 20
expect 2 "^nflow train: --learn-prior cannot change on --resume" "$B" train --resume "$T/prior/checkpoint.h5" --no-learn-prior --learn-prior
"$B" train --resume "$T/prior/checkpoint.h5" --steps 3 --quiet >"$T/log" 2>&1 && ok || fail "learned-prior resume: $(tail -2 "$T/log")"
cp "$T/ckpt.keep" "$T/run/checkpoint.h5"
# a sequential model's checkpoint in a Glow run's directory, and the other way round
"$B" train --data toy:banana --flow sequential --spec "realnvp(hidden=8x2)*2" --batch 50 --train-size 1000 \
  --threads 1 --no-plots --no-gif --quiet --steps 3 --out "$T/seq" >/dev/null 2>&1 || { echo "FAIL: sequential run"; exit 1; }
cp "$T/toy/checkpoint.h5" "$T/toy.ckpt"
cp "$T/seq/checkpoint.h5" "$T/toy/checkpoint.h5"
expect 3 "is not this run's checkpoint: it holds a sequential .*realnvp.*args.txt beside it a glow" \
  "$B" train --resume "$T/toy/checkpoint.h5" --steps 5
cp "$T/toy.ckpt" "$T/seq/checkpoint.h5"
expect 3 "is not this run's checkpoint: it holds a glow.*args.txt beside it a sequential realnvp" \
  "$B" train --resume "$T/seq/checkpoint.h5" --steps 5
finish
