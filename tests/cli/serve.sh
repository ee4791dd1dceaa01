#!/bin/sh
# The HE service (import serve) with real processes on 127.0.0.1: a server
# (tests/cli/serve/tiny_server.he: CryptoNets at the 8x8 geometry, N = 8192)
# and clients (tiny_client.he: predictions equal to the plaintext model's;
# bad_client.he: requests to refuse). Checks: a session end to end; two
# clients at once with different keys; refusals (ciphertexts under other
# keys, keys for other parameters, a wrong number of inputs, a request over
# the size limit, a session that idled out, a client key not on the allow
# list) each with an error reply while the server keeps serving; a client
# killed mid-request does not disturb another; SIGTERM finishes and stops
# the server (exit 0); the command-line client (he query). Every wait is
# bounded. Prints ok / not ok lines.
HE=${HE:-build/he}
tmp=${TMPDIR:-/tmp}/serve.$$
mkdir -p "$tmp"
pids=
cleanup() {
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
    [ -n "$KEEP" ] || rm -rf "$tmp"
}
trap cleanup EXIT
ok() { echo "ok $1"; }
t0=$(date +%s)
at() { echo "# $(($(date +%s) - t0)) s: $1"; }
nok() { echo "not ok $1: $2"; }
has() { # name, file, text
    if grep -qF -- "$3" "$2"; then ok "$1"; else nok "$1" "'$3' not in $(head -c 400 "$2")"; fi
}
port=$((10000 + ($$ * 13) % 20000)) # below the ephemeral ports (32768 up), which outgoing connections take
key() { # file -> prints the public key
    "$HE" -e "import smpc
print(smpc.keygen(\"$1\"))"
}
# server NAME PORT [LIMIT VALUE]...: starts it in the background
server() {
    name=$1 p=$2
    shift 2
    "$HE" tests/cli/serve/tiny_server.he "tcp://127.0.0.1:$p" "$tmp/srv.key" "$@" >"$tmp/$name.out" 2>&1 &
    eval "${name}_pid=$!"
    pids="$pids $!"
}
stop() { # NAME: SIGTERM, then wait (bounded) for its exit status
    eval "p=\$${1}_pid"
    kill -TERM "$p"
    i=0
    while kill -0 "$p" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    wait "$p"
    eval "${1}_rc=$?"
}
client() { # OUT ARGS...
    out=$1
    shift
    timeout 120 "$HE" tests/cli/serve/tiny_client.he "tcp://127.0.0.1:$port" "$pub" "$@" >"$tmp/$out" 2>&1
}
bad() { # MODE [PORT]
    timeout 120 "$HE" tests/cli/serve/bad_client.he "tcp://127.0.0.1:${2:-$port}" "$pub" "$1" >"$tmp/bad_$1" 2>&1
}

pub=$(key "$tmp/srv.key")
server main $port

# --- a session end to end ---
client one 11 2
at session_end_to_end; has session_end_to_end "$tmp/one" "query 1: 4 outputs, error below 1%: true, predictions equal: 16/16"
at session_closed; has session_closed "$tmp/one" "session closed"
# the secret-key (seeded) query sends half the bytes of the public-key one
sk=$(sed -n 's/^query 0 sent \([0-9]*\) bytes/\1/p' "$tmp/one")
pk=$(sed -n 's/^query 1 sent \([0-9]*\) bytes/\1/p' "$tmp/one")
if [ -n "$sk" ] && [ -n "$pk" ] && [ $((sk * 100)) -lt $((pk * 51)) ]; then ok seeded_query_half_size; else
    nok seeded_query_half_size "secret-key query $sk bytes, public-key query $pk bytes"; fi

# --- two clients at once, different keys ---
client a 21 2 &
ca=$!
client b 22 2 &
cb=$!
wait $ca
wait $cb
n=$(cat "$tmp/a" "$tmp/b" | grep -c "error below 1%: true, predictions equal: 16/16")
[ "$n" = 4 ] && ok two_clients_at_once || nok two_clients_at_once "$n of 4 answers right: $(cat "$tmp/a" "$tmp/b" | head -c 600)"

# --- refusals, each with the server's reason ---
bad other_keys
at refuse_other_keys; has refuse_other_keys "$tmp/bad_other_keys" "the server refused: serve: input 0 was encrypted under other keys"
bad other_params
at refuse_other_params; has refuse_other_params "$tmp/bad_other_params" "the server refused: ckks: file was made for other CKKS parameters"
bad count
at refuse_input_count; has refuse_input_count "$tmp/bad_count" "the server refused: serve: the model takes 64 input ciphertexts, got 3"
bad closed
at refuse_closed_session; has refuse_closed_session "$tmp/bad_closed" "serve.query: the session is closed"

# --- the command-line client: he query ADDRESS KEY FILE.npy ---
"$HE" tests/cli/serve/plain_classes.he "$tmp/x.npy" >"$tmp/plain_classes" 2>&1
timeout 120 "$HE" query "tcp://127.0.0.1:$port" "$pub" "$tmp/x.npy" >"$tmp/query" 2>&1
rc=$?
cut -d' ' -f1,2 "$tmp/query" >"$tmp/query_classes"
if [ "$rc" = 0 ] && cmp -s "$tmp/plain_classes" "$tmp/query_classes"; then ok cli_query_classes; else
    nok cli_query_classes "exit $rc: $(head -c 300 "$tmp/query") vs $(head -c 100 "$tmp/plain_classes")"; fi
"$HE" query "tcp://127.0.0.1:$port" "$pub" >"$tmp/query_usage" 2>&1
at cli_query_usage; has cli_query_usage "$tmp/query_usage" "usage: he query ADDRESS SERVER_PUBLIC_KEY FILE.npy"

# --- a client killed mid-request does not disturb another ---
timeout 120 "$HE" tests/cli/serve/tiny_client.he "tcp://127.0.0.1:$port" "$pub" 31 20 >"$tmp/killed" 2>&1 &
ck=$!
i=0
while ! grep -q "query 0" "$tmp/killed" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -9 $ck 2>/dev/null
wait $ck 2>/dev/null
client after_kill 32 1
at killed_client_others_served; has killed_client_others_served "$tmp/after_kill" "query 0: 4 outputs, error below 1%: true, predictions equal: 16/16"

# --- SIGTERM: the server finishes the request in flight, then stops (exit 0) ---
# (sent once the server evaluates the client's second query)
timeout 120 "$HE" tests/cli/serve/tiny_client.he "tcp://127.0.0.1:$port" "$pub" 41 2 >"$tmp/last" 2>&1 &
cl=$!
i=0
while ! grep -q "sending query 1" "$tmp/last" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
k=$(($(grep -c '^evaluating' "$tmp/main.out") + 1))
while [ "$(grep -c '^evaluating' "$tmp/main.out")" -lt $k ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
stop main
wait $cl
at sigterm_in_flight_answered; has sigterm_in_flight_answered "$tmp/last" "query 1: 4 outputs, error below 1%: true, predictions equal: 16/16"
[ "$main_rc" = 0 ] && ok sigterm_exit_0 || nok sigterm_exit_0 "exit $main_rc: $(tail -c 400 "$tmp/main.out")"
at sigterm_summary; has sigterm_summary "$tmp/main.out" "served "
if grep -q "error" "$tmp/main.out"; then nok server_no_errors "$(head -c 400 "$tmp/main.out")"; else ok server_no_errors; fi

# --- limits: a request over max_mb; a client key not on the allow list ---
p2=$((port + 1))
server small $p2 max_mb 1
bad other_keys $p2
at refuse_too_large; has refuse_too_large "$tmp/bad_other_keys" "the server refused: serve: the request of"
stop small
[ "$small_rc" = 0 ] && ok small_server_exit_0 || nok small_server_exit_0 "exit $small_rc"

# --- a session idle longer than idle_s is closed (its keys freed) ---
p4=$((port + 3))
server idle $p4 idle_s 1
bad idle $p4
at refuse_idle_session; has refuse_idle_session "$tmp/bad_idle" "the server refused: serve: no such session (never opened, closed, or idle too long)"
stop idle

key "$tmp/someone.key" >"$tmp/allow"
p3=$((port + 2))
server strict $p3 allow "$tmp/allow"
timeout 60 "$HE" tests/cli/serve/bad_client.he "tcp://127.0.0.1:$p3" "$pub" open 3 >"$tmp/denied" 2>&1
rc=$?
[ "$rc" = 1 ] && ok refuse_unlisted_key || nok refuse_unlisted_key "exit $rc"
at refuse_unlisted_key_message; has refuse_unlisted_key_message "$tmp/denied" "no reply from the server"
stop strict
[ "$strict_rc" = 0 ] && ok strict_server_exit_0 || nok strict_server_exit_0 "exit $strict_rc"
