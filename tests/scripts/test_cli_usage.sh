#!/usr/bin/env bash
# The nflow command's interface: --help on every subcommand reads like a man page and
# exits 0; every bad flag, value, file or command gives exactly one line on stderr,
# naming the subcommand and the problem, and the documented exit code.
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"

[ -x "$B" ] || { echo "FAIL: $B not built"; exit 1; }

# ---- help texts: exit 0, on stdout, with the man-page sections
for c in train sample eval encode decode info plot data demo; do
  out=$("$B" "$c" --help 2>"$T/err"); rc=$?
  [ $rc -eq 0 ] || fail "$c --help exited $rc"
  [ -s "$T/err" ] && fail "$c --help wrote to stderr"
  for section in NAME SYNOPSIS "EXIT STATUS" EXAMPLE; do
    grep -q "^$section" <<<"$out" || fail "$c --help lacks $section"
  done
  grep -q "  4  numerical failure" <<<"$out" || fail "$c --help does not document exit code 4"
  [ "$("$B" help "$c" | md5sum)" = "$(md5sum <<<"$out")" ] || fail "'nflow help $c' differs from '$c --help'"
  ok
done
"$B" --help | grep -q "^COMMANDS" || fail "nflow --help lacks COMMANDS"
"$B" --version | grep -Eq '^nflow [0-9]+\.[0-9]+$' || fail "--version"
# every flag the train help promises is accepted by the parser (no stale documentation)
for flag in $("$B" train --help | grep -oE '^  --[a-z0-9-]+' | sort -u); do
  "$B" train "$flag" 2>&1 | grep -q "unknown option" && fail "train --help documents $flag but the parser rejects it"
done
ok

# ---- expect CODE PATTERN args...: exit code, exactly one stderr line matching PATTERN

expect 2 "^nflow: unknown command 'trian'" "$B" trian
expect 2 "^nflow train: unknown option '--bach' \(did you mean --batch\?\)" "$B" train --bach 3
expect 2 "^nflow train: --lr: expected a number in .*got 'abc'" "$B" train --data toy:banana --lr abc
expect 2 "^nflow train: --lr: expected a number" "$B" train --data toy:banana --lr=-1
expect 2 "^nflow train: --batch: expected an integer in \[1, .*got '0'" "$B" train --data toy:banana --batch 0
expect 2 "^nflow train: --batch: expected an integer.*got '2.5'" "$B" train --data toy:banana --batch 2.5
expect 2 "^nflow train: --schedule: expected one of constant\|cosine\|step, got 'linear'" "$B" train --data toy:banana --schedule linear
expect 2 "^nflow train: --batch needs a value" "$B" train --data toy:banana --batch
expect 2 "^nflow train: --batch given twice" "$B" train --batch 3 --batch 4
expect 2 "^nflow train: give --learn-prior or --no-learn-prior, not both" "$B" train --data toy:banana --learn-prior --no-learn-prior
expect 2 "^nflow train: --quiet takes no value" "$B" train --quiet=1
expect 2 "^nflow train: --data is required" "$B" train --out "$T/run"
expect 2 "^nflow train: give --steps or --epochs, not both" "$B" train --data toy:banana --steps 3 --epochs 1 --out "$T/run"
expect 2 "^nflow train: --schedule step needs --lr-step" "$B" train --data toy:banana --schedule step --out "$T/run"
expect 2 "^nflow train: unexpected argument 'extra'" "$B" train extra
expect 2 "^nflow train: unknown toy density 'bananas' \(one of banana" "$B" train --data toy:bananas --out "$T/run"
expect 2 "^nflow train: data 'nofile' is neither FILE.h5:/DATASET nor toy:NAME" "$B" train --data nofile --out "$T/run"
expect 2 "^nflow train: .*(levels|2\^L|squeez)" "$B" train --data toy:banana --squeeze space --out "$T/run" --steps 1
expect 3 "^nflow train: .*missing\.h5" "$B" train --data "$T/missing.h5:/x" --out "$T/run"
expect 2 "^nflow sample: --model is required" "$B" sample
expect 3 "^nflow sample: .*nomodel\.h5" "$B" sample --model "$T/nomodel.h5"
expect 2 "^nflow eval: --model and --data are required" "$B" eval --model x.h5
expect 2 "^nflow info: expected one model or checkpoint file" "$B" info
expect 2 "^nflow plot: expected one of curves\|scatter\|trajectories\|warp\|grid\|posterior, got 'pie'" "$B" plot pie --out "$T/p.png"
expect 2 "^nflow plot: --out FILE.png is required" "$B" plot curves --metrics x.csv
expect 3 "^nflow plot: cannot read .*nometrics.csv" "$B" plot curves --metrics "$T/nometrics.csv" --out "$T/p.png"
expect 2 "^nflow data: expected images, npy, fashion-mnist, toy NAME, gaussian-linear, cond-moons, segy or seismic" "$B" data
expect 2 "^nflow data: .*unknown.*toy densities" "$B" data toy nosuch --out "$T/t.h5"
expect 2 "^nflow demo: --image-steps: expected an integer" "$B" demo --image-steps x

# a file that is not HDF5 is a data error, not a crash
echo "not hdf5" >"$T/bad.h5"
expect 3 "^nflow eval: " "$B" eval --model "$T/bad.h5" --data toy:banana
expect 3 "^nflow info: " "$B" info "$T/bad.h5"

# ---- NFLOW_CONV picks the convolution backend: a bad value is a usage error; dnnl runs
# where oneDNN is built in and is refused, naming the build option, elsewhere
expect 2 "NFLOW_CONV=bogus: must be im2col or dnnl" env NFLOW_CONV=bogus "$B" --version
NFLOW_CONV=im2col "$B" --version >/dev/null 2>"$T/err" && [ ! -s "$T/err" ] && ok || fail "NFLOW_CONV=im2col"
NFLOW_CONV=dnnl "$B" --version >/dev/null 2>"$T/err"; rc=$?
if [ $rc -eq 0 ]; then ok; else expect 2 "NFLOW_CONV=dnnl: .*NFLOW_DNNL" env NFLOW_CONV=dnnl "$B" --version; fi

finish
