#!/usr/bin/env bash
# NaN/Inf handling of nflow train: a poisoned parameter (--debug-nan-at) makes the next
# loss NaN; the run must roll back to the last good state, halve the learning rate, say
# so on stderr and in metrics.jsonl, and finish; when it keeps happening it must stop
# after --max-rollbacks with exit status 4 and leave the last good model.
# argv[1] = build directory.
source "$(dirname "$0")/cli_common.sh"
ARGS=(--data toy:banana --squeeze none --levels 1 --depth 4 --hidden 8 --batch 100 --lr 1e-3 --steps 200
      --threads 1 --no-plots --no-gif --quiet)

# two poisonings, three rollbacks allowed: recovers
"$B" train "${ARGS[@]}" --debug-nan-at 50,120 --out "$T/a" >"$T/a.log" 2>"$T/a.err"; rc=$?
[ $rc -eq 0 ] || fail "recovering run exited $rc: $(cat "$T/a.err")"
[ "$(wc -l <"$T/a.err")" -eq 2 ] || fail "expected 2 stderr lines, got: $(cat "$T/a.err")"
grep -q "^nflow train: step 51: .*not finite.*; rolled back to the state before step 50 and halved the learning rate for 100 steps (now x0.5 .*halved 1 of at most 3 times; 1 rollback in all)" "$T/a.err" ||
    fail "first rollback line: $(head -1 "$T/a.err")"
grep -q "^nflow train: step 121: .*rolled back to the state before step 120 .*(now x0.25 .*halved 2 of at most 3 times; 2 rollbacks in all)" "$T/a.err" ||
    fail "second rollback line: $(tail -1 "$T/a.err")"
[ "$(grep -c '"type":"rollback"' "$T/a/metrics.jsonl")" -eq 2 ] || fail "metrics.jsonl lacks the 2 rollback events"
# the learning rate column: 1e-3, then halved from step 51, quartered from step 121 (the
# second rollback came before 100 calm steps could double the rate back)
/usr/bin/python3 - "$T/a/metrics.csv" <<'EOF' || fail "learning rates after the rollbacks"
import csv, math, sys
rows = {int(r["step"]): r for r in csv.DictReader(open(sys.argv[1])) if r["loss"]}
assert sorted(rows) == list(range(1, 201)), "every step once"
lr = lambda s: float(rows[s]["lr"])
assert lr(50) == 1e-3 and lr(51) == 5e-4 and lr(120) == 5e-4 and lr(121) == 2.5e-4 and lr(200) == 2.5e-4
assert all(math.isfinite(float(r["loss"])) for r in rows.values()), "a NaN loss was recorded as a step"
EOF
grep -q "held-out objective on 10000 samples: [0-9]" "$T/a.log" || fail "no finite held-out objective after recovering"
ok

# --recover-steps 20: the halved rate doubles back after 20 calm steps, and says so
"$B" train "${ARGS[@]}" --debug-nan-at 50 --recover-steps 20 --out "$T/r" >"$T/r.log" 2>"$T/r.err" ||
    fail "recovering run: $(cat "$T/r.err")"
grep -q "^nflow train: step 70: 20 steps without a rollback; the learning rate doubled back (now x1 of the schedule)" \
    "$T/r.err" || fail "recover line: $(cat "$T/r.err")"
grep -q '"type":"recover","step":70' "$T/r/metrics.jsonl" || fail "recover event in metrics.jsonl"
/usr/bin/python3 - "$T/r/metrics.csv" <<'EOF' || fail "learning rates around the recovery"
import csv, sys
lr = {int(r["step"]): float(r["lr"]) for r in csv.DictReader(open(sys.argv[1])) if r["loss"]}
assert lr[50] == 1e-3 and lr[51] == 5e-4 and lr[70] == 5e-4 and lr[71] == 1e-3 and lr[200] == 1e-3, lr
EOF
ok

# poisoned again and again: stops with exit 4 after 3 rollbacks, keeps the last good model
"$B" train "${ARGS[@]}" --debug-nan-at 10,20,30,40 --out "$T/b" >"$T/b.log" 2>"$T/b.err"; rc=$?
[ $rc -eq 4 ] || fail "repeated NaN: exit $rc, expected 4"
tail -1 "$T/b.err" | grep -q "^nflow train: step 41: .*not finite.*stopping after 3 rollbacks" || fail "stop line: $(tail -1 "$T/b.err")"
[ "$(grep -c 'rolled back' "$T/b.err")" -eq 3 ] || fail "expected 3 rollback lines"
[ -f "$T/b/model.h5" ] && fail "a failed run must not write model.h5"
"$B" info "$T/b/model_last_good.h5" --batch 8 >/dev/null || fail "model_last_good.h5 is not a usable model"
grep -q '"type":"stop"' "$T/b/metrics.jsonl" || fail "metrics.jsonl lacks the stop event"
ok

# a finite explosion (the poison a shift of 10, not NaN): the loss watch rolls back
# and says why; with --loss-jump 0 nothing notices and the damaged run goes on
"$B" train "${ARGS[@]}" --debug-nan-at 50 --debug-jump --out "$T/j" >"$T/j.log" 2>"$T/j.err"; rc=$?
[ $rc -eq 0 ] || fail "finite jump: exit $rc: $(cat "$T/j.err")"
grep -q "^nflow train: step 51: the loss jumped to .* above its recent level .*; rolled back to the state before step 50 and halved" \
    "$T/j.err" || fail "finite jump: no rollback line saying why: $(cat "$T/j.err")"
grep -q '"type":"rollback","step":51,"message":"step 51: the loss jumped' "$T/j/metrics.jsonl" || fail "jump event in metrics.jsonl"
"$B" train "${ARGS[@]}" --debug-nan-at 50 --debug-jump --loss-jump 0 --out "$T/k" >"$T/k.log" 2>"$T/k.err" ||
    fail "unwatched jump run failed: $(cat "$T/k.err")"
grep -q "jumped" "$T/k.err" && fail "--loss-jump 0 still watched the loss"
j=$(grep -o "held-out objective on 10000 samples: [-0-9.e+]*" "$T/j.log" | awk '{print $NF}')
k=$(grep -o "held-out objective on 10000 samples: [-0-9.e+]*" "$T/k.log" | awk '{print $NF}')
awk -v j="$j" -v k="$k" 'BEGIN { exit !(j + 1 < k) }' || fail "the rolled-back run ($j) should end well below the damaged one ($k)"
ok

# no rollbacks allowed: the first NaN stops the run
"$B" train "${ARGS[@]}" --debug-nan-at 5 --max-rollbacks 0 --out "$T/c" >/dev/null 2>"$T/c.err"; rc=$?
[ $rc -eq 4 ] && grep -q "step 6: .*stopping after 0 rollbacks" "$T/c.err" || fail "--max-rollbacks 0: exit $rc, $(cat "$T/c.err")"
ok

finish
