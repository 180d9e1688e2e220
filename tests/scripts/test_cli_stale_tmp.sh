#!/usr/bin/env bash
# Temporary files left by killed runs ("checkpoint.h5.tmp-PID-…", "model.h5.tmp-…") are
# removed by the next run or resume that writes into the directory, when their process
# is gone; those of a running process and other names stay.
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"

ARGS=(--data toy:banana --squeeze none --levels 1 --depth 2 --hidden 16 --threads 1 --no-plots --no-gif --quiet)
"$B" train "${ARGS[@]}" --steps 20 --checkpoint-every 10 --out "$T/run" >"$T/train.log" 2>&1 ||
  { cat "$T/train.log"; echo "FAIL: the first run"; exit 1; }

# the pid of a process that has exited
sleep 0 &
dead=$!
wait $dead
kill -0 $dead 2>/dev/null && { echo "FAIL: pid $dead still runs"; exit 1; }
stale=("checkpoint.h5.tmp-$dead-0-0123abcd" "model.h5.tmp-$dead-3-deadbeef")
keep=("checkpoint.h5.tmp-$$-1-00000000" "checkpoint.h5.tmp-notes" "other.h5.tmp-$dead-0-0123abcd")
for f in "${stale[@]}" "${keep[@]}"; do head -c 5000 /dev/urandom >"$T/run/$f"; done

"$B" train --resume "$T/run/checkpoint.h5" --steps 30 --quiet >"$T/resume.log" 2>&1 || { cat "$T/resume.log"; fail "resume"; }
for f in "${stale[@]}"; do [ -e "$T/run/$f" ] && fail "resume left the dead writer's $f"; done
for f in "${keep[@]}"; do [ -e "$T/run/$f" ] || fail "resume removed $f (not a dead writer's temporary file)"; done
ok

# the same for a fresh run into the directory
for f in "${stale[@]}"; do head -c 5000 /dev/urandom >"$T/run/$f"; done
"$B" train "${ARGS[@]}" --steps 5 --out "$T/run" >"$T/train2.log" 2>&1 || { cat "$T/train2.log"; fail "second run"; }
for f in "${stale[@]}"; do [ -e "$T/run/$f" ] && fail "a new run left the dead writer's $f"; done
ok

# real kills: whatever temporary files they leave, the resume removes
"$B" train --data toy:banana --squeeze none --levels 1 --depth 8 --hidden 256 --threads 1 --no-plots --no-gif --quiet --steps 100000 --checkpoint-every 1 --out "$T/kill" >/dev/null 2>&1 &
PID=$!
for _ in $(seq 1 400); do [ -f "$T/kill/checkpoint.h5" ] && break; sleep 0.01; done
sleep 0.3
kill -9 $PID 2>/dev/null
wait $PID 2>/dev/null
PID=""
left=$(ls "$T/kill" | grep -c '\.tmp-' || true)
"$B" train --resume "$T/kill/checkpoint.h5" --steps $(( $("$B" info "$T/kill/checkpoint.h5" --no-measure --json |
  /usr/bin/python3 -c "import json, sys; print(json.load(sys.stdin)['iteration'])") + 1 )) --quiet >"$T/resume2.log" 2>&1 ||
  { cat "$T/resume2.log"; fail "resume after kill -9"; }
echo "kill -9 left $left temporary file(s); after the resume: $(ls "$T/kill" | grep -c '\.tmp-' || true)"
ls "$T/kill" | grep -q '\.tmp-' && fail "temporary files after the resume: $(ls "$T/kill" | grep '\.tmp-' | tr '\n' ' ')"
ok
finish
