#!/usr/bin/env bash
# Every subcommand against the one exit-code table of docs/cli.md: for each failure kind
# a subcommand can meet, a command line that meets it must exit with the code the table
# gives that kind, with exactly one line on stderr that starts "nflow <command>: " (and
# nothing on stderr for success).
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"

DOC="${NFLOW_SOURCE_DIR:-$(dirname "$0")/../..}/docs/cli.md"
declare -A CODE
while IFS='|' read -r _ code kind _; do
  code=${code// /} kind=${kind// /}
  [[ $code =~ ^[0-9]+$ ]] && CODE[$kind]=$code
done < <(sed -n '/^## Exit status/,/^Every error/p' "$DOC")
for k in success runtime usage data numeric; do
  [ -n "${CODE[$k]:-}" ] || { echo "FAIL: docs/cli.md's exit-code table has no row '$k'"; exit 1; }
done
echo "table: success ${CODE[success]}, runtime ${CODE[runtime]}, usage ${CODE[usage]}, data ${CODE[data]}, numeric ${CODE[numeric]}"

# check KIND CMD [ARGS...]: runs nflow CMD ARGS
check() {
  local kind=$1 cmd=$2
  shift 2
  "$B" "$cmd" "$@" >"$T/out" 2>"$T/err"
  local rc=$? want=${CODE[$kind]} lines
  lines=$(wc -l <"$T/err")
  if [ "$rc" != "$want" ]; then
    fail "$kind: 'nflow $cmd $*' exited $rc, the table says $want ($(head -c 300 "$T/err"))"
  elif [ "$kind" = success ]; then
    [ "$lines" = 0 ] && ok || fail "success: 'nflow $cmd $*' wrote to stderr: $(head -c 300 "$T/err")"
  elif [ "$lines" != 1 ] || ! grep -q "^nflow $cmd: " "$T/err"; then
    fail "$kind: 'nflow $cmd $*' wrote $lines stderr lines: $(head -c 300 "$T/err")"
  else
    ok
  fi
  seen["$cmd $kind"]=1
}
declare -A seen

# ---- fixtures: a 2-D model, an image model, data and latents with NaN, a directory
ARGS=(--squeeze none --levels 1 --depth 1 --hidden 4 --threads 1 --no-plots --no-gif --quiet)
"$B" train --data toy:banana "${ARGS[@]}" --steps 2 --out "$T/toy" >/dev/null 2>&1 || { echo "FAIL: toy model"; exit 1; }
"$B" data seismic --n 64 --size 8,8 --seed 2 --out "$T/seis.h5" >/dev/null || { echo "FAIL: seismic data"; exit 1; }
"$B" train --data "$T/seis.h5:/x" --levels 1 --depth 1 --hidden 4 --batch 16 --steps 2 --threads 1 --no-plots \
  --no-gif --quiet --out "$T/img" >/dev/null 2>&1 || { echo "FAIL: image model"; exit 1; }
TOY="$T/toy/model.h5" IMG="$T/img/model.h5"
/usr/bin/python3 - "$T" <<'EOF' || { echo "FAIL: NaN fixtures"; exit 1; }
import h5py, numpy as np, sys
t = sys.argv[1]
z = np.zeros((3, 2), np.float32); z[1, 1] = np.nan
h5py.File(t + "/zn.h5", "w")["z"] = z
x = np.random.default_rng(0).normal(size=(200, 2, 1, 1)).astype(np.float32); x[150, 0] = np.inf
h5py.File(t + "/xn.h5", "w")["x"] = x
h5py.File(t + "/cube.h5", "w")["x"] = np.zeros((32, 4, 4, 4), np.float32)    # channels first or last?
h5py.File(t + "/vol.h5", "w")["x"] = np.zeros((32, 3, 8, 8), np.float32)     # (N, D, H, W), odd D
np.save(t + "/a.npy", np.zeros((4, 3), np.float32))
EOF
"$B" encode --model "$TOY" --data toy:banana --n 10 --out "$T/z.h5" >/dev/null || { echo "FAIL: latents"; exit 1; }
mkdir -p "$T/adir"
echo "not hdf5" >"$T/bad.h5"
echo "a file" >"$T/afile"

# ---- train
check usage train --data toy:banana --bach 3
check usage train --data toy:banana --steps 2.5
check data train --data "$T/missing.h5:/x" --out "$T/r1"
check data train --data "$T/seis.h5:/nosuch" --out "$T/r1"
check usage train --data "$T/cube.h5:/x" --layout chw --out "$T/r1"
check data train --data "$T/cube.h5:/x" "${ARGS[@]}" --steps 1 --out "$T/r1"
check data train --data "$T/vol.h5:/x" --layout ndhw --levels 1 --depth 1 --hidden 4 --steps 1 --out "$T/r1"
check data eval --model "$IMG" --data "$T/cube.h5:/x"
check runtime train --data toy:banana "${ARGS[@]}" --steps 2 --out "$T/afile"
check numeric train --data "$T/xn.h5:/x" --squeeze none --levels 1 --depth 1 --hidden 4 --steps 20 --batch 100 \
  --val none --threads 1 --no-plots --no-gif --quiet --out "$T/r2"
check success train --data toy:banana "${ARGS[@]}" --steps 1e1 --out "$T/r3"

# ---- sample
check usage sample --model "$TOY" --n x
check data sample --model "$T/missing.h5"
check data sample --model "$T/bad.h5"
check runtime sample --model "$TOY" --n 5 --out "$T/adir"
check success sample --model "$TOY" --n 5 --out "$T/s.h5"

# ---- eval
check usage eval --model "$TOY"
check data eval --model "$IMG" --data toy:banana
check numeric eval --model "$TOY" --data "$T/xn.h5:/x"
check success eval --model "$TOY" --data toy:banana --n 100

# ---- encode
check usage encode --model "$TOY" --data toy:banana --limit 0
check data encode --model "$TOY" --data "$T/missing.h5:/x"
check runtime encode --model "$TOY" --data toy:banana --n 5 --out "$T/adir"
check numeric encode --model "$TOY" --data "$T/xn.h5:/x" --out "$T/zn2.h5"
check success encode --model "$TOY" --data toy:banana --n 5 --out "$T/z2.h5"

# ---- decode
check usage decode --model "$TOY"
check data decode --model "$TOY" --latents "$T/missing.h5:/z"
check data decode --model "$IMG" --latents "$T/z.h5:/z"
check runtime decode --model "$TOY" --latents "$T/z.h5:/z" --out "$T/adir"
check numeric decode --model "$TOY" --latents "$T/zn.h5:/z" --out "$T/xd.h5"
grep -q "sample 1 holds NaN at element 1 of 2" "$T/err" || fail "decode NaN message: $(cat "$T/err")"
check success decode --model "$TOY" --latents "$T/z.h5:/z" --out "$T/xd.h5"

# ---- info
check usage info
check data info "$T/bad.h5"
check success info "$TOY" --no-measure

# ---- plot
check usage plot pie --out "$T/p.png"
check data plot scatter --model "$IMG" --out "$T/p.png"
check data plot warp --model "$IMG" --out "$T/p.png"
check data plot trajectories --model "$IMG" --out "$T/p.png"
check data plot grid --model "$TOY" --out "$T/p.png"
check data plot curves --metrics "$T/missing.csv" --out "$T/p.png"
check runtime plot curves --metrics "$T/toy/metrics.csv" --out "$T/adir"
check success plot curves --metrics "$T/toy/metrics.csv" --out "$T/p.png"

# ---- data
check usage data toy nosuch --out "$T/d.h5"
check data data fashion-mnist --dir "$T/adir" --out "$T/d.h5"
check runtime data toy banana --n 10 --out "$T/adir"
check runtime data seismic --n 4 --size 8,8 --out "$T/adir"
check success data toy banana --n 10 --out "$T/d.h5"
mkdir -p "$T/pics" "$T/nopics"
"$B" plot curves --metrics "$T/toy/metrics.csv" --out "$T/pics/p.png" >/dev/null 2>&1 || fail "a PNG fixture"
check usage data images --dir "$T/pics" --size 64 --out "$T/d.h5"
check data data images --dir "$T/nopics" --out "$T/d.h5"
check runtime data images --dir "$T/pics" --out "$T/adir"
check success data images --dir "$T/pics" --size 8,8 --out "$T/d.h5"
check usage data npy --out "$T/d.h5"
check data data npy --input "$T/afile" --out "$T/d.h5"
check runtime data npy --input "$T/a.npy" --out "$T/adir"
check success data npy --input "$T/a.npy" --out "$T/d.h5"

# ---- demo
check usage demo --image-steps x
check runtime demo --no-images --out "$T/afile"

# every subcommand met usage and at least one other kind
for c in train sample eval encode decode info plot data demo; do
  [ -n "${seen["$c usage"]:-}" ] || fail "$c: no usage case"
done
[ -n "$(ls "$T"/adir)" ] && fail "something was written into the directory given as an output: $(ls "$T/adir")"
finish
