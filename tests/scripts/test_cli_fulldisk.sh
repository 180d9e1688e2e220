#!/usr/bin/env bash
# A full disk while nflow writes a checkpoint, a model or a rewritten metrics file: the
# run ends cleanly (exit 1, one line on stderr, no crash at exit), the previous files
# stay loadable and unchanged, and no temporary file stays behind. The disk is a small
# tmpfs mounted in a private mount namespace (unshare -rm, or -m as root); where that is not allowed
# the test is skipped (exit 77, ctest's SKIP_RETURN_CODE).
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"

mkdir -p "$T/probe"
NS=""
for ns in "unshare -rm" "unshare -m"; do # a user namespace, or root's own mount namespace
  $ns sh -c "mount -t tmpfs -o size=64k tmpfs '$T/probe'" 2>/dev/null && { NS=$ns; break; }
done
if [ -z "$NS" ]; then
  echo "SKIP: cannot mount a tmpfs in a private mount namespace here (unshare -rm or -m)"
  exit 77
fi

# A finished run to start from: checkpoint.h5, model.h5, metrics, args.txt.
ARGS=(--data toy:banana --squeeze none --levels 1 --depth 4 --hidden 64 --batch 64 --threads 1 --no-plots --no-gif --quiet)
"$B" train "${ARGS[@]}" --steps 20 --checkpoint-every 10 --out "$T/run" >"$T/train.log" 2>&1 ||
  { cat "$T/train.log"; echo "FAIL: the first run"; exit 1; }

# Runs "$@" (an nflow command line using $M for the mount point) inside a namespace with a
# 2 MiB tmpfs at $M holding a copy of the run, filled up to $FREE_KB free kilobytes.
# Writes rc, stderr and a listing of the run directory to $T/out.
full_disk() {
  local free_kb=$1; shift
  mkdir -p "$T/mnt" "$T/out"
  $NS bash -s "$T" "$B" "$free_kb" "$@" <<'EOF'
T=$1 B=$2 FREE=$3; shift 3
M=$T/mnt
mount -t tmpfs -o size=2m tmpfs "$M" || exit 99
cp -r "$T/run" "$M/run" || exit 98
avail=$(df -k --output=avail "$M" | tail -1)
dd if=/dev/zero of="$M/fill" bs=1k count=$((avail - FREE)) 2>/dev/null
args=("$@")
"$B" "${args[@]//@M/$M}" >"$T/out/stdout" 2>"$T/out/stderr"
echo $? >"$T/out/rc"
ls "$M/run" >"$T/out/ls"
cp "$M/run/checkpoint.h5" "$T/out/checkpoint.h5"
cp "$M/run/model.h5" "$T/out/model.h5"
"$B" info "$M/run/checkpoint.h5" --no-measure >/dev/null 2>"$T/out/info.err"
echo $? >"$T/out/info_rc"
EOF
}

# Checks the outcome of full_disk for what: exit 1, one stderr line naming the full disk,
# no temporary file, checkpoint and model unchanged and loadable.
check_clean() {
  local what=$1
  local rc lines
  rc=$(cat "$T/out/rc")
  lines=$(wc -l <"$T/out/stderr")
  echo "$what: rc $rc, stderr: $(cat "$T/out/stderr")"
  [ "$rc" = 1 ] || fail "$what: exit status $rc, expected 1"
  [ "$lines" = 1 ] || fail "$what: $lines lines on stderr, expected 1"
  grep -q "No space left on device" "$T/out/stderr" || fail "$what: the message does not say the disk is full"
  grep -q '\.tmp' "$T/out/ls" && fail "$what: temporary files left: $(grep '\.tmp' "$T/out/ls" | tr '\n' ' ')"
  cmp -s "$T/out/checkpoint.h5" "$T/run/checkpoint.h5" || fail "$what: checkpoint.h5 changed"
  cmp -s "$T/out/model.h5" "$T/run/model.h5" || fail "$what: model.h5 changed"
  [ "$(cat "$T/out/info_rc")" = 0 ] || fail "$what: the old checkpoint no longer loads: $(cat "$T/out/info.err")"
  ok
}

# 1. resume: the metrics files are rewritten (small), then the checkpoint at step 30 does
#    not fit (300 KB with 100 KB free)
full_disk 100 train --resume @M/run/checkpoint.h5 --steps 40 --checkpoint-every 10 --quiet
check_clean "checkpoint on a full disk"

# 2. the metrics rewrite itself does not fit
full_disk 2 train --resume @M/run/checkpoint.h5 --steps 40 --quiet
check_clean "metrics on a full disk"

# 3. a fresh run into the same directory: model.h5 (120 KB) is written first, into 50 KB
full_disk 50 train "${ARGS[@]}" --steps 5 --out @M/run
check_clean "model on a full disk"
# 4. the HDF5 outputs of sample, encode and data: larger than the disk (200 KB), and a
#    disk full from the start. Exit 1 and one line (HDF5's own message holds a newline),
#    no .partial file, no crash or hang in HDF5's exit handler, no file that looks written.
M2="$T/mnt2"
mkdir -p "$M2"
$NS bash -s "$B" "$T/run/model.h5" "$M2" >"$T/outputs.log" 2>&1 <<'EOF2'
B=$1 MODEL=$2 M=$3
mount -t tmpfs -o size=200k tmpfs "$M" || exit 99
run() { timeout 60 "$B" "$@" >/dev/null 2>"$M.err"; echo "rc $? lines $(wc -l <"$M.err") ls $(ls "$M" | tr '\n' ' ')| $(cat "$M.err")"; }
run sample --model "$MODEL" --n 100000 --out "$M/s.h5"
run encode --model "$MODEL" --data toy:banana --n 100000 --out "$M/z.h5"
run data toy banana --n 100000 --out "$M/d.h5"
run data seismic --n 300 --size 32,32 --out "$M/e.h5"
dd if=/dev/zero of="$M/fill" bs=1k 2>/dev/null
run data toy banana --n 10 --out "$M/d.h5"
run sample --model "$MODEL" --n 10 --out "$M/s.h5"
EOF2
cat "$T/outputs.log"
n=0
while read -r line; do
  n=$((n + 1))
  case "$line" in
    "rc 1 lines 1 ls | "*"No space left on device"*) ok ;;
    "rc 1 lines 1 ls fill | "*"No space left on device"*) ok ;;
    *) fail "output $n on a full disk: $line" ;;
  esac
done < <(grep '^rc ' "$T/outputs.log")
[ "$n" = 6 ] || fail "expected 6 results from the output checks, got $n"
finish
