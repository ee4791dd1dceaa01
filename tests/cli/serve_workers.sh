#!/bin/sh
# The HE service with several workers behind one address (serve.front,
# serve.worker), as processes on 127.0.0.1: a front (tests/cli/serve/
# tiny_front.he) and workers (tiny_worker.he: the 8x8 CryptoNets network).
# Checks: no worker, or only one whose key is not in the workers file: a
# clear refusal; two workers and four clients at once: every answer right,
# sessions spread over both workers; a worker killed (kill -9) while a
# client's request is on it: that client gets a clear error, a client on
# the other worker and a new client are served; SIGTERM to the front
# finishes the request in flight, stops the workers, exit 0. Every wait is
# bounded. Prints ok / not ok lines.
HE=${HE:-build/he}
tmp=${TMPDIR:-/tmp}/serve_workers.$$
mkdir -p "$tmp"
pids=
cleanup() {
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
    [ -n "$KEEP" ] || rm -rf "$tmp"
}
trap cleanup EXIT
ok() { echo "ok $1"; }
nok() { echo "not ok $1: $2"; }
has() { # name, file, text
    if grep -qF -- "$3" "$2"; then ok "$1"; else nok "$1" "'$3' not in $(head -c 400 "$2")"; fi
}
key() { "$HE" -e "import smpc
print(smpc.keygen(\"$1\"))"; }
port=$((10000 + ($$ * 11) % 20000)) # below the ephemeral ports (32768 up)
addr="tcp://127.0.0.1:$port"
waddr="tcp://127.0.0.1:$((port + 1))"
pub=$(key "$tmp/front.key")
key "$tmp/w1.key" >"$tmp/workers"
key "$tmp/w2.key" >>"$tmp/workers"
key "$tmp/stranger.key" >/dev/null
worker() { # NAME KEY
    "$HE" tests/cli/serve/tiny_worker.he "$waddr" "$pub" "$tmp/$2.key" >"$tmp/$1.out" 2>&1 &
    eval "${1}_pid=$!"
    pids="$pids $!"
}
client() { # OUT SEED QUERIES
    timeout 120 "$HE" tests/cli/serve/tiny_client.he "$addr" "$pub" "$2" "$3" >"$tmp/$1" 2>&1
}
wait_for() { # FILE TEXT: up to 60 s
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
}
right="error below 1%: true, predictions equal: 16/16"

"$HE" tests/cli/serve/tiny_front.he "$addr" "$waddr" "$tmp/front.key" "$tmp/workers" >"$tmp/front.out" 2>&1 &
front=$!
pids="$pids $front"

# --- no worker yet; then one whose key the front does not list ---
client none 1 1
has no_worker_refused "$tmp/none" "the server refused: serve: no worker is ready; try again later"
worker stranger stranger
sleep 2
client stranger 2 1
has unlisted_worker_unused "$tmp/stranger" "no worker is ready"
kill -9 "$stranger_pid" 2>/dev/null

# --- two workers, four clients at once ---
worker w1 w1
worker w2 w2
sleep 2
for c in 1 2 3 4; do client c$c $((10 + c)) 2 & eval "c${c}_pid=$!"; done
wait $c1_pid; wait $c2_pid; wait $c3_pid; wait $c4_pid
n=$(cat "$tmp"/c1 "$tmp"/c2 "$tmp"/c3 "$tmp"/c4 | grep -c "$right")
[ "$n" = 8 ] && ok four_clients_two_workers || nok four_clients_two_workers "$n of 8 answers right: $(head -c 600 "$tmp/c1")"
# both workers evaluated, and at the same time (an evaluation of one overlaps one of the other)
e1=$(grep -c '^eval ' "$tmp/w1.out")
e2=$(grep -c '^eval ' "$tmp/w2.out")
[ "$e1" -ge 1 ] && [ "$e2" -ge 1 ] && [ $((e1 + e2)) = 8 ] && ok sessions_spread || nok sessions_spread "w1 $e1, w2 $e2 evaluations"
if grep '^eval ' "$tmp/w1.out" | while read -r _ a b; do
    grep '^eval ' "$tmp/w2.out" | awk -v a="$a" -v b="$b" '$2 < b && a < $3 { found = 1 } END { exit !found }' && echo yes
done | grep -q yes; then ok workers_concurrent; else nok workers_concurrent "$(cat "$tmp/w1.out" "$tmp/w2.out")"; fi

# --- a worker killed with a request on it ---
# w1 alone when client A opens its session; w2 back before client B opens: B goes to the idle w2
kill -TERM "$w2_pid"
wait "$w2_pid"
timeout 120 "$HE" tests/cli/serve/tiny_client.he "$addr" "$pub" 21 40 >"$tmp/a" 2>&1 &
ca=$!
wait_for "$tmp/a" "query 0:"
worker w2 w2
sleep 2
client b 22 3 &
cb=$!
wait_for "$tmp/a" "query 2:"
wait_for "$tmp/a" "sending query 3"
kill -9 "$w1_pid"
wait $ca
wait $cb
has killed_worker_clear_error "$tmp/a" "the server refused: serve: the worker serving this session stopped"
has killed_worker_keys_gone "$tmp/a" "its keys are gone: open a new session"
n=$(grep -c "$right" "$tmp/b")
[ "$n" = 3 ] && ok other_worker_served || nok other_worker_served "$(head -c 600 "$tmp/b")"
client after 23 1
has new_client_after_kill "$tmp/after" "query 0: 4 outputs, $right"

# --- SIGTERM to the front: the request in flight is answered, the workers stop ---
# (sent once the worker evaluates the client's second query)
timeout 120 "$HE" tests/cli/serve/tiny_client.he "$addr" "$pub" 31 2 >"$tmp/last" 2>&1 &
cl=$!
wait_for "$tmp/last" "sending query 1"
k=$(($(grep -c '^evaluating' "$tmp/w2.out") + 1))
i=0
while [ "$(grep -c '^evaluating' "$tmp/w2.out")" -lt $k ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -TERM "$front"
i=0
while kill -0 "$front" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
wait "$front"
frc=$?
wait $cl
has front_sigterm_in_flight_answered "$tmp/last" "query 1: 4 outputs, $right"
[ "$frc" = 0 ] && ok front_sigterm_exit_0 || nok front_sigterm_exit_0 "exit $frc: $(tail -c 300 "$tmp/front.out")"
i=0
while kill -0 "$w2_pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
wait "$w2_pid"
wrc=$?
[ "$wrc" = 0 ] && ok workers_stop_with_front || nok workers_stop_with_front "exit $wrc: $(tail -c 300 "$tmp/w2.out")"
has worker_served "$tmp/w2.out" "worker served "
if grep -qi "error" "$tmp/front.out" "$tmp/w2.out"; then nok no_errors "$(cat "$tmp/front.out" "$tmp/w2.out" | head -c 400)"; else ok no_errors; fi
