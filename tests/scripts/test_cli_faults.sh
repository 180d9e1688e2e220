#!/usr/bin/env bash
# Faults during training: a kill -9 soak (KILLS random kills of `nflow train` with
# --checkpoint-every, each followed by --resume) must end with a model.h5 bit-identical to
# an uninterrupted run's, metrics holding every step once and no temporary file left;
# while a run holds the directory, a second one (a resume) is refused naming its pid; data
# changed between a kill and the resume is refused and leaves the checkpoint as it was.
# The full disk and the memory limit have their own scripts (test_cli_fulldisk.sh,
# test_cli_memory_limit.sh); concurrent fresh runs and every kind of changed data are in
# test_cli_run_dir.sh and test_cli_resume_checks.sh.
# argv[1] = build directory; argv[2] = KILLS (default 5; docs/reliability.md records a run
# with 50). NFLOW_FAULT_SEED picks the kill times (default 1).
source "$(dirname "$0")/cli_common.sh"

KILLS=${2:-5}
RANDOM=${NFLOW_FAULT_SEED:-1}
"$B" data toy banana --n 4000 --seed 3 --out "$T/d.h5" >/dev/null || { echo "FAIL: nflow data toy"; exit 1; }
cp "$T/d.h5" "$T/d.keep"
ARGS=(--data "$T/d.h5:/x" --squeeze none --levels 1 --depth 4 --hidden 16 --batch 64 --lr 1e-3
      --checkpoint-every 5 --seed 7 --threads 1 --no-plots --no-gif --quiet)
# enough steps for every kill to land in a running process: each segment runs at most
# 0.65 s before its kill, so twice the steps this machine trains in 0.65 s per kill (it
# was 30 to 120 on a busy 2-core machine, a few hundred on a quiet one), at least 400 + 200 per kill
t0=$(date +%s.%N)
"$B" train "${ARGS[@]}" --steps 200 --out "$T/speed" >/dev/null 2>&1 || { echo "FAIL: speed run"; exit 1; }
STEPS=$(/usr/bin/python3 -c "import sys; t=float(sys.argv[1])-float(sys.argv[2]); k=int(sys.argv[3]); \
print(max(400 + 200 * k, 400 + int(2 * 0.65 * k * 200 / max(t, 1e-3))))" "$(date +%s.%N)" "$t0" "$KILLS")
ARGS+=(--steps "$STEPS")
"$B" train "${ARGS[@]}" --out "$T/ref" >"$T/ref.log" 2>&1 || { cat "$T/ref.log"; echo "FAIL: reference run"; exit 1; }

iteration() {
  "$B" info "$T/run/checkpoint.h5" --no-measure --json 2>/dev/null |
    /usr/bin/python3 -c "import json, sys; print(json.load(sys.stdin)['iteration'])"
}
# starts the next segment in the background: a resume when there is a checkpoint, else a fresh run
start() {
  if [ -f "$T/run/checkpoint.h5" ]; then "$B" train --resume "$T/run/checkpoint.h5" --quiet >>"$T/run.log" 2>&1 &
  else "$B" train "${ARGS[@]}" --out "$T/run" >>"$T/run.log" 2>&1 &
  fi
  PID=$!
}
# waits until the running segment holds the directory's lock (its pid in .nflow.lock) and
# a checkpoint is there to resume from (the first segment's first checkpoint can come
# after the lock on a busy machine; a resume before it fails for want of the file)
wait_lock() {
  for _ in $(seq 1 2000); do
    [ "$(cat "$T/run/.nflow.lock" 2>/dev/null)" = "$PID" ] && [ -f "$T/run/checkpoint.h5" ] && return 0
    kill -0 $PID 2>/dev/null || return 1
    sleep 0.005
  done
  return 1
}

landed=0 refused=0 last=0 changed=0 tmpkills=0
start
for k in $(seq 1 "$KILLS"); do
  # a kill 0.05 to 0.65 s into the segment: in a step, a checkpoint write or the start-up
  sleep "0.$(printf '%02d' $((5 + RANDOM % 60)))"
  if [ $k -eq 1 ] && wait_lock; then
    # a second process into the busy directory is refused and changes nothing
    f0=$fails
    expect 1 "^nflow train: $T/run is in use by another nflow train \(pid $PID\)" \
      "$B" train --resume "$T/run/checkpoint.h5"
    [ $fails -eq $f0 ] && refused=$((refused + 1))
  fi
  kill -0 $PID 2>/dev/null || break # the run finished before this kill
  kill -9 $PID 2>/dev/null
  wait $PID 2>/dev/null
  PID=""
  landed=$((landed + 1))
  ls "$T/run" | grep -q '\.tmp-' && tmpkills=$((tmpkills + 1)) # removed by the next segment
  if [ -f "$T/run/checkpoint.h5" ]; then
    at=$(iteration) || { fail "kill $k: the checkpoint does not load"; break; }
    [ "$at" -ge "$last" ] || fail "kill $k: the checkpoint went back from step $last to $at"
    last=$at
    if [ $k -eq 2 ]; then
      # the data change while the run is down: the resume is refused, the checkpoint kept
      cp "$T/run/checkpoint.h5" "$T/ckpt.before"
      "$B" data toy banana --n 4000 --seed 4 --out "$T/d.h5" >/dev/null
      f0=$fails
      expect 3 "^nflow train: the data changed since $T/run/checkpoint.h5 was written" \
        "$B" train --resume "$T/run/checkpoint.h5"
      [ $fails -eq $f0 ] && changed=$((changed + 1))
      cmp -s "$T/ckpt.before" "$T/run/checkpoint.h5" || fail "the refused resume changed the checkpoint"
      cp "$T/d.keep" "$T/d.h5"
    fi
  fi
  start
done
# the last segment runs to the end
wait $PID 2>/dev/null
PID=""
[ -f "$T/run/model.h5" ] || "$B" train --resume "$T/run/checkpoint.h5" --quiet >>"$T/run.log" 2>&1 ||
  fail "the final resume failed: $(tail -3 "$T/run.log")"
echo "$landed of $KILLS kills landed in a running process ($tmpkills left temporary files; last checkpoint" \
  "before the end: step $last of $STEPS); $refused concurrent run(s) and $changed changed data set(s) refused"
[ $landed -eq "$KILLS" ] || fail "only $landed of $KILLS kills landed: the run ended first (raise STEPS)"
[ $refused -eq 1 ] || fail "the concurrent run was not refused (or not tried: no lock and checkpoint within 10 s)"
same_params "$T/ref/model.h5" "$T/run/model.h5" || fail "the killed and resumed run differs from the uninterrupted one"
same_metrics "$T/run/metrics.csv" "$T/ref/metrics.csv" $STEPS || fail "metrics.csv after $landed kills"
ls "$T/run" | grep -q '\.tmp-' && fail "temporary files left: $(ls "$T/run" | grep '\.tmp-' | tr '\n' ' ')"
ok
finish
