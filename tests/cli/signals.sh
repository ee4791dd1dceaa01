#!/bin/sh
# Ctrl-C (SIGINT) and SIGTERM stop a long builtin promptly and cleanly, in a
# script (exit 130 / 143) and in the REPL (back to the prompt, nothing bound);
# stdout redirected to a file keeps its order with stderr and is written out
# when the script stops. Prints ok / not ok lines.
HE=${HE:-build/he}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { echo "ok $1"; }
nok() { echo "not ok $1: $2"; }
now() { date +%s.%N; }
# seconds from $1 to now, as an integer (rounded up)
since() { echo "$1 $(now)" | awk '{ d = $2 - $1; print int(d) + (d > int(d)) }'; }
# a 3000 x 3000 matrix product: about 10 s here without sanitizers
cat >"$tmp/mm.he" <<'HE'
print("start")
let t = ones([3000, 3000])
let u = t @ t
print("after", u[0, 0])
HE

# a script: SIGINT during the product stops it within a second or two
"$HE" "$tmp/mm.he" >"$tmp/out" 2>"$tmp/err" &
pid=$!
sleep 1
t0=$(now)
kill -INT $pid
wait $pid
rc=$?
took=$(since "$t0")
[ "$rc" = 130 ] && ok script_sigint_exit_130 || nok script_sigint_exit_130 "exit $rc: $(head -c 300 "$tmp/err")"
grep -q "mm.he:[23]:[0-9][0-9]*: runtime error: interrupted" "$tmp/err" && ok script_sigint_message ||
    nok script_sigint_message "$(head -c 300 "$tmp/err")"
[ "$took" -le 4 ] && ok script_sigint_prompt || nok script_sigint_prompt "stopped after ${took}s"
grep -q after "$tmp/out" && nok script_sigint_stops "the script ran on" || ok script_sigint_stops
grep -q start "$tmp/out" && ok script_sigint_keeps_output || nok script_sigint_keeps_output "the log lost 'start'"

# the REPL: back to the prompt, the name not bound, the session goes on
"$HE" >"$tmp/out" 2>&1 <<'HE' &
let t = ones([3000, 3000])
let u = t @ t
u
print("alive")
HE
pid=$!
sleep 1.5
t0=$(now)
kill -INT $pid
wait $pid
rc=$?
took=$(since "$t0")
[ "$rc" = 0 ] && ok repl_sigint_exit_0 || nok repl_sigint_exit_0 "exit $rc"
grep -q "runtime error: interrupted" "$tmp/out" && ok repl_sigint_message || nok repl_sigint_message "$(head -c 400 "$tmp/out")"
grep -q "unknown name 'u'" "$tmp/out" && ok repl_sigint_nothing_bound ||
    nok repl_sigint_nothing_bound "$(head -c 400 "$tmp/out")"
grep -q "^alive" "$tmp/out" && ok repl_sigint_goes_on || nok repl_sigint_goes_on "$(head -c 400 "$tmp/out")"
[ "$took" -le 4 ] && ok repl_sigint_prompt || nok repl_sigint_prompt "stopped after ${took}s"

# SIGTERM during a long loop after two prints: both are in the log, exit 143
cat >"$tmp/loop.he" <<'HE'
print("epoch 1")
print("epoch 2")
let i = 0
while true { i += 1 }
HE
"$HE" "$tmp/loop.he" >"$tmp/log" 2>"$tmp/err" &
pid=$!
sleep 1
kill -TERM $pid
wait $pid
rc=$?
[ "$rc" = 143 ] && ok sigterm_exit_143 || nok sigterm_exit_143 "exit $rc"
[ "$(cat "$tmp/log")" = "epoch 1
epoch 2" ] && ok sigterm_keeps_log || nok sigterm_keeps_log "log: $(head -c 200 "$tmp/log")"
grep -q "runtime error: terminated" "$tmp/err" && ok sigterm_message || nok sigterm_message "$(head -c 300 "$tmp/err")"

# stdout to a file: what was printed before an error comes before it in a
# 2>&1 log
printf 'print("one")\nprint("two")\nlet z = 0\nprint(1 / z)\n' >"$tmp/err.he"
"$HE" "$tmp/err.he" >"$tmp/both" 2>&1
head -n 2 "$tmp/both" | tr '\n' ' ' | grep -q "^one two $" && ok order_stdout_before_stderr ||
    nok order_stdout_before_stderr "$(head -c 300 "$tmp/both")"
# flush(): what was printed is in the file while the script still runs
cat >"$tmp/fl.he" <<'HE'
print("one")
print("two")
flush()
let i = 0
while true { i += 1 }
HE
"$HE" "$tmp/fl.he" >"$tmp/log" 2>/dev/null &
pid=$!
sleep 1
lines=$(wc -l <"$tmp/log")
kill -KILL $pid 2>/dev/null
wait $pid 2>/dev/null
[ "$lines" = 2 ] && ok flush_writes_out || nok flush_writes_out "$lines lines in the log"

# SIGINT during a long key generation (4096-bit Paillier: minutes)
printf 'import paillier\nlet k = paillier.keygen(4096)\nprint("after")\n' >"$tmp/pk.he"
"$HE" "$tmp/pk.he" >"$tmp/out" 2>"$tmp/err" &
pid=$!
sleep 1
t0=$(now)
kill -INT $pid
wait $pid
rc=$?
took=$(since "$t0")
[ "$rc" = 130 ] && grep -q "runtime error: interrupted" "$tmp/err" && ok keygen_sigint ||
    nok keygen_sigint "exit $rc: $(head -c 300 "$tmp/err")"
[ "$took" -le 4 ] && ok keygen_sigint_prompt || nok keygen_sigint_prompt "stopped after ${took}s"

# a print a second or more after the last write-out writes out at once: the
# log shows progress while the run goes on (without flush())
cat >"$tmp/tick.he" <<'HE'
print("one")
print("two")
let t0 = clock()
while clock() - t0 < 1.5 { }
print("three")
while true { }
HE
"$HE" "$tmp/tick.he" >"$tmp/log" 2>/dev/null &
pid=$!
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    sleep 0.5
    lines=$(wc -l <"$tmp/log")
    [ "$lines" = 3 ] && break
done
kill -KILL $pid 2>/dev/null
wait $pid 2>/dev/null
[ "$lines" = 3 ] && ok print_writes_out_after_a_second || nok print_writes_out_after_a_second "$lines lines in the log"

# SIGINT during a CKKS batch (one encryption per row, about 10 s in all)
cat >"$tmp/ck.he" <<'HE'
import ckks
let ctx = ckks.context(8192, 40, 3)
let keys = ckks.keygen(ctx)
print("keys")
let b = ckks.encrypt_rows(keys, ones([4000, 10]))
print("after", len(b))
HE
"$HE" "$tmp/ck.he" >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    grep -q keys "$tmp/out" && break
    sleep 0.5
done
sleep 0.5
t0=$(now)
kill -INT $pid
wait $pid
rc=$?
took=$(since "$t0")
[ "$rc" = 130 ] && grep -q "ck.he:5:26: runtime error: interrupted" "$tmp/err" && ok ckks_batch_sigint ||
    nok ckks_batch_sigint "exit $rc: $(head -c 300 "$tmp/err")"
[ "$took" -le 3 ] && ok ckks_batch_sigint_prompt || nok ckks_batch_sigint_prompt "stopped after ${took}s"

# SIGINT while an SMPC party waits for peers that never come
mkdir "$tmp/k"
"$HE" -e "import smpc
smpc.local_parties(\"$tmp/k\", 2)" >/dev/null
printf 'import smpc\nlet ctx = smpc.context(2)\nprint("never")\n' >"$tmp/two.he"
"$HE" --party 0 --parties "$tmp/k/parties" "$tmp/two.he" >"$tmp/out" 2>"$tmp/err" &
pid=$!
sleep 1.5
t0=$(now)
kill -INT $pid
wait $pid
rc=$?
took=$(since "$t0")
[ "$rc" = 130 ] && grep -q "runtime error: interrupted" "$tmp/err" && ok smpc_wait_sigint ||
    nok smpc_wait_sigint "exit $rc: $(head -c 300 "$tmp/err")"
[ "$took" -le 3 ] && ok smpc_wait_sigint_prompt || nok smpc_wait_sigint_prompt "stopped after ${took}s"
