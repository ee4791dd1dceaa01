#!/bin/sh
# SMPC parties as processes on 127.0.0.1: a process that fails tells the
# others at once. A party's run-time error (error(...), an index out of
# range), an interrupt or a port already taken: the other party and the
# dealer stop with that party's message, far sooner than their 10 s
# timeout, and the dealer exits non-zero. The dealer killed: the parties
# name the dealer; the dealer stopped (SIGSTOP, a silent death): the
# timeout names it. Times are generous upper bounds (< 5 s against the
# 10 s timeout), never tight. The dealer exits 0 only when every party
# ended well: a party failing after the last operation fails it too.
# Prints ok / not ok lines.
HE=${HE:-build/he}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { echo "ok $1"; }
nok() { echo "not ok $1: $2"; }
ms() { date +%s%N | cut -b1-13; }
has() { # name, file, text
    if grep -qF -- "$3" "$2"; then ok "$1"; else nok "$1" "'$3' not in: $(head -c 400 "$2")"; fi
}

mkdir "$tmp/k"
"$HE" -e "import smpc
smpc.local_parties(\"$tmp/k\", 2)" >/dev/null || { nok setup "local_parties"; exit 0; }
pf="$tmp/k/parties"
port_of() { sed -n "s/^$1 127.0.0.1:\([0-9]*\) .*/\1/p" "$pf"; }

# start NAME SCRIPT: the dealer and both parties in the background (pids
# dp p0 p1, outputs $tmp/NAME.d, .0, .1)
start() {
    "$HE" --party dealer --parties "$pf" "$2" >"$tmp/$1.d" 2>&1 &
    dp=$!
    "$HE" --party 0 --parties "$pf" "$2" >"$tmp/$1.0" 2>&1 &
    p0=$!
    "$HE" --party 1 --parties "$pf" "$2" >"$tmp/$1.1" 2>&1 &
    p1=$!
}

# --- party 1 stops on error(...) between two collective operations ---
cat >"$tmp/boom.he" <<'HE'
import smpc
let ctx = smpc.context(2)
let x = smpc.share(ctx, [1.0, 2.0], 0)
let y = x * x
print(smpc.reveal(y))
if smpc.me(ctx) == 1 { error("party 1 gives up: no input") }
let z = y * y
print(smpc.reveal(z))
HE
start boom "$tmp/boom.he"
wait "$p1"; r1=$?
t1=$(ms)
wait "$p0"; r0=$?
wait "$dp"; rd=$?
took=$(($(ms) - t1))
[ "$r1" = 1 ] && ok error_party1_fails || nok error_party1_fails "exit $r1: $(head -c 300 "$tmp/boom.1")"
[ "$r0" = 1 ] && ok error_party0_stops || nok error_party0_stops "exit $r0: $(head -c 300 "$tmp/boom.0")"
[ "$rd" = 1 ] && ok error_dealer_fails || nok error_dealer_fails "exit $rd: $(head -c 300 "$tmp/boom.d")"
has error_party0_message "$tmp/boom.0" "party 1 stopped: $tmp/boom.he:6:29: runtime error: party 1 gives up: no input"
has error_dealer_message "$tmp/boom.d" "party 1 stopped: $tmp/boom.he:6:29: runtime error: party 1 gives up: no input"
[ "$took" -lt 5000 ] && ok error_not_the_timeout || nok error_not_the_timeout "the others took ${took} ms more"

# --- party 0 stops on an index out of range (the dealer never hears from party 0 otherwise) ---
cat >"$tmp/index.he" <<'HE'
import smpc
let ctx = smpc.context(2)
let x = smpc.share(ctx, [1.0, 2.0], 1)
let k = [1, 2]
let i = 5 - 5 * smpc.me(ctx)
print(k[i])
print(smpc.reveal(x * x))
HE
start index "$tmp/index.he"
wait "$p0"; r0=$?
t0=$(ms)
wait "$p1"; r1=$?
wait "$dp"; rd=$?
took=$(($(ms) - t0))
[ "$r0" = 1 ] && [ "$r1" = 1 ] && [ "$rd" = 1 ] && ok index_all_fail || nok index_all_fail "exits $r0 $r1 $rd"
has index_party1_message "$tmp/index.1" "party 0 stopped: $tmp/index.he:6:8: runtime error: index"
has index_dealer_message "$tmp/index.d" "party 0 stopped: $tmp/index.he:6:8: runtime error: index"
[ "$took" -lt 5000 ] && ok index_not_the_timeout || nok index_not_the_timeout "the others took ${took} ms more"

# --- party 0 fails after the last operation, when party 1 is done: the dealer still fails ---
cat >"$tmp/late.he" <<'HE'
import smpc
let ctx = smpc.context(2)
let x = smpc.share(ctx, [1.0, 2.0], 0)
print(smpc.reveal(x * x))
if smpc.me(ctx) == 0 { error("party 0 fails after the computation") }
HE
start late "$tmp/late.he"
wait "$p0"; r0=$?
wait "$p1"; r1=$?
wait "$dp"; rd=$?
[ "$r0" = 1 ] && [ "$r1" = 0 ] && ok late_parties || nok late_parties "exits $r0 $r1"
[ "$rd" = 1 ] && ok late_dealer_fails || nok late_dealer_fails "exit $rd: $(head -c 300 "$tmp/late.d")"
has late_dealer_message "$tmp/late.d" "party 0 stopped: $tmp/late.he:5:29: runtime error: party 0 fails after the computation"

# --- party 0 works on in plaintext after the last operation, past the
# context's 1 s timeout: the dealer waits for its goodbye and exits 0 ---
cat >"$tmp/slow.he" <<'HE'
import smpc
let ctx = smpc.context(2, 0, 16, 1.0)
let x = smpc.share(ctx, [1.0, 2.0], 0)
print(smpc.reveal(x * x))
if smpc.me(ctx) == 0 { let t = clock(); while clock() - t < 2.5 { } }
HE
start slow "$tmp/slow.he"
wait "$p0"; r0=$?
wait "$p1"; r1=$?
wait "$dp"; rd=$?
[ "$r0" = 0 ] && [ "$r1" = 0 ] && [ "$rd" = 0 ] && ok slow_party_after_last_op || nok slow_party_after_last_op "exits $r0 $r1 $rd: $(head -c 300 "$tmp/slow.d")"

# --- a long computation: the dealer killed, stopped, a party interrupted ---
cat >"$tmp/long.he" <<'HE'
import smpc
let ctx = smpc.context(2, 0, 16, float(argv(0)))
let x = smpc.share(ctx, [1.0, 2.0], 0)
let i = 0
while i < 100000000 { x = x * 1.0; i += 1 }
print(smpc.reveal(x))
HE
startl() { # NAME TIMEOUT
    "$HE" --party dealer --parties "$pf" "$tmp/long.he" "$2" >"$tmp/$1.d" 2>&1 &
    dp=$!
    "$HE" --party 0 --parties "$pf" "$tmp/long.he" "$2" >"$tmp/$1.0" 2>&1 &
    p0=$!
    "$HE" --party 1 --parties "$pf" "$tmp/long.he" "$2" >"$tmp/$1.1" 2>&1 &
    p1=$!
    sleep 1.5
}

startl kill 10
kill -9 "$dp"
t=$(ms)
wait "$p0"; r0=$?
wait "$p1"; r1=$?
took=$(($(ms) - t))
wait "$dp" 2>/dev/null
[ "$r0" = 1 ] && [ "$r1" = 1 ] && ok dealer_killed_parties_fail || nok dealer_killed_parties_fail "exits $r0 $r1"
has dealer_killed_named_by_party0 "$tmp/kill.0" "the dealer stopped"
has dealer_killed_named_by_party1 "$tmp/kill.1" "the dealer stopped"
[ "$took" -lt 5000 ] && ok dealer_killed_not_the_timeout || nok dealer_killed_not_the_timeout "${took} ms"

# a silent death: the dealer stops answering (SIGSTOP); 2 s timeout
startl stop 2
kill -STOP "$dp"
t=$(ms)
wait "$p0"; r0=$?
wait "$p1"; r1=$?
took=$(($(ms) - t))
kill -9 "$dp"
wait "$dp" 2>/dev/null
[ "$r0" = 1 ] && [ "$r1" = 1 ] && ok dealer_silent_parties_fail || nok dealer_silent_parties_fail "exits $r0 $r1"
has dealer_silent_named_by_party0 "$tmp/stop.0" "the dealer sent nothing for 2000 ms"
has dealer_silent_named_by_party1 "$tmp/stop.1" "the dealer sent nothing for 2000 ms"
[ "$took" -lt 8000 ] && ok dealer_silent_within_timeout || nok dealer_silent_within_timeout "${took} ms"

# Ctrl-C in party 1: the others stop with its message
startl int 10
kill -INT "$p1"
t=$(ms)
wait "$p0"; r0=$?
wait "$dp"; rd=$?
took=$(($(ms) - t))
wait "$p1"; r1=$?
[ "$r0" != 0 ] && [ "$rd" != 0 ] && [ "$r1" != 0 ] && ok interrupt_all_fail || nok interrupt_all_fail "exits $r0 $rd $r1"
has interrupt_party0_names_party1 "$tmp/int.0" "party 1 stopped"
has interrupt_dealer_names_party1 "$tmp/int.d" "party 1 stopped"
[ "$took" -lt 5000 ] && ok interrupt_not_the_timeout || nok interrupt_not_the_timeout "${took} ms"

# Ctrl-C in party 0 while it waits for party 1 (busy with a long local
# loop; the timeout is 60 s): it stops within a second, and the dealer with it
cat >"$tmp/wait.he" <<'HE'
import smpc
let ctx = smpc.context(2, 0, 16, 60)
let x = smpc.share(ctx, [1.0, 2.0], 0)
if smpc.me(ctx) == 1 {
  let j = 0
  while j < 2000000000 { j += 1 }
}
print(smpc.reveal(x * x))
HE
start wait "$tmp/wait.he"
sleep 2
kill -INT "$p0"
t=$(ms)
wait "$p0"; r0=$?
wait "$dp"; rd=$?
took=$(($(ms) - t))
kill -9 "$p1"
wait "$p1" 2>/dev/null
[ "$r0" != 0 ] && [ "$rd" = 1 ] && ok interrupt_waiting_fails || nok interrupt_waiting_fails "exits $r0 $rd"
has interrupt_waiting_party0 "$tmp/wait.0" "wait.he:8:21: runtime error: interrupted"
has interrupt_waiting_dealer "$tmp/wait.d" "party 0 stopped: interrupted while waiting for party 1"
[ "$took" -lt 5000 ] && ok interrupt_waiting_not_the_timeout || nok interrupt_waiting_not_the_timeout "${took} ms"

# party 1 holds a key that is not its own: it cannot reach anyone (the
# others refuse unknown keys), so they time out (2 s), naming party 1
"$HE" -e "import smpc
smpc.keygen(\"$tmp/foreign.key\")" >/dev/null
"$HE" --party dealer --parties "$pf" "$tmp/long.he" 2 >"$tmp/key.d" 2>&1 &
dp=$!
"$HE" --party 0 --parties "$pf" "$tmp/long.he" 2 >"$tmp/key.0" 2>&1 &
p0=$!
"$HE" --party 1 --parties "$pf" --key "$tmp/foreign.key" "$tmp/long.he" 2 >"$tmp/key.1" 2>&1
r1=$?
wait "$p0"; r0=$?
wait "$dp"; rd=$?
[ "$r1" = 1 ] && [ "$r0" = 1 ] && [ "$rd" = 1 ] && ok bad_key_all_fail || nok bad_key_all_fail "exits $r1 $r0 $rd"
has bad_key_party1 "$tmp/key.1" "is not the key the party file lists for party 1"
has bad_key_party0_names_party1 "$tmp/key.0" "party 1 sent nothing for 2000 ms"
has bad_key_dealer_names_party1 "$tmp/key.d" "party 1 sent nothing for 2000 ms"

# --- party 1's port is taken: it cannot listen, and says so ---
if command -v python3 >/dev/null 2>&1; then
    port=$(port_of 1)
    python3 -c "import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', $port)); s.listen(1); open('$tmp/held', 'w').close(); time.sleep(30)" &
    holder=$!
    n=0
    while [ ! -f "$tmp/held" ] && [ "$n" -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    [ -f "$tmp/held" ] || nok port_taken_held "python3 could not hold port $port"
    "$HE" --party dealer --parties "$pf" "$tmp/boom.he" >"$tmp/port.d" 2>&1 &
    dp=$!
    "$HE" --party 0 --parties "$pf" "$tmp/boom.he" >"$tmp/port.0" 2>&1 &
    p0=$!
    sleep 0.5
    "$HE" --party 1 --parties "$pf" "$tmp/boom.he" >"$tmp/port.1" 2>&1
    r1=$?
    t=$(ms)
    wait "$p0"; r0=$?
    wait "$dp"; rd=$?
    took=$(($(ms) - t))
    kill "$holder" 2>/dev/null
    wait "$holder" 2>/dev/null
    [ "$r1" = 1 ] && [ "$r0" = 1 ] && [ "$rd" = 1 ] && ok port_taken_all_fail || nok port_taken_all_fail "exits $r1 $r0 $rd"
    has port_taken_party1 "$tmp/port.1" "party 1 cannot listen on tcp://127.0.0.1:$port"
    has port_taken_party0 "$tmp/port.0" "party 1 stopped: party 1 cannot listen on tcp://127.0.0.1:$port"
    has port_taken_dealer "$tmp/port.d" "party 1 stopped: party 1 cannot listen"
    [ "$took" -lt 5000 ] && ok port_taken_not_the_timeout || nok port_taken_not_the_timeout "${took} ms"
else
    echo "skip port_taken: no python3 to hold a port"
fi
