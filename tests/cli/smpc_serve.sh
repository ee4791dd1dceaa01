#!/bin/sh
# The SMPC service (import smpc_serve) with real processes on 127.0.0.1: a
# model owner (tests/cli/smpc_serve/owner.he: a small network, seeded
# random weights) deals its weights' shares to the parties and exits; the
# cluster (server.he: the dealer and 2 parties, or 3 parties under rep3)
# serves clients (client.he) that are not members of it. Checks: the
# answers equal the plaintext network's under both protocols, two clients
# at once; what the parties received of the inputs (seen_check.he: only
# random-looking words, never an input's encoding; and the check notices
# an input in the clear); the owner gone before the cluster starts; a
# client killed mid-run does not disturb another; a client pinning a wrong
# key for a party cannot reach it (the request is refused: a party lacks
# its share); an allow list keeps other clients out; the cluster stops
# after N requests, and on
# SIGTERM at any party (exit 0 everywhere); a stopped, then killed party
# ends the service with an error naming it at the waiting client, the
# other party and the dealer, never a hang; the command-line client (he
# query CLUSTER FILE.npy); the MNIST scripts (scripts/serve_smpc_local.sh)
# under both protocols when the data is there. Prints ok / not ok lines.
HE=${HE:-build/he}
tmp=${TMPDIR:-/tmp}/smpc_serve.$$
mkdir -p "$tmp"
pids=
cleanup() {
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
ok() { echo "ok $1"; }
nok() { echo "not ok $1: $2"; }
has() { # name, file, text
    if grep -qF -- "$3" "$2"; then ok "$1"; else nok "$1" "'$3' not in $(head -c 600 "$2")"; fi
}
S=tests/cli/smpc_serve

# cluster DIR N PROTO REQUESTS [OPTIONS [trace]]: keys, party and cluster
# files, the owner's dealing (it exits), then the dealer and the parties in
# the background (their pids in DIR/pids, outputs in DIR/p*.out)
cluster() {
    d=$1 n=$2 proto=$3
    shift 3
    mkdir -p "$d"
    "$HE" -e "import smpc
import smpc_serve
smpc.local_parties(\"$d\", $n)
smpc_serve.local_cluster(\"$d\")" >/dev/null || return 1
    "$HE" $S/owner.he "$d" "$proto" >"$d/owner.out" 2>&1 || return 1
    : >"$d/pids"
    if [ "$proto" = dealer ]; then
        "$HE" --party dealer --parties "$d/parties" $S/server.he "$d" "$proto" "$@" >"$d/pdealer.out" 2>&1 &
        echo "dealer $!" >>"$d/pids"
        pids="$pids $!"
    fi
    i=0
    while [ $i -lt "$n" ]; do
        "$HE" --party $i --parties "$d/parties" $S/server.he "$d" "$proto" "$@" >"$d/p$i.out" 2>&1 &
        echo "$i $!" >>"$d/pids"
        pids="$pids $!"
        i=$((i + 1))
    done
}
pid() { sed -n "s/^$2 //p" "$1/pids"; }
# waitall DIR: the exit status of each process (bounded: 30 s), into DIR/rc.*
waitall() {
    while read -r who p; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
        wait "$p"
        echo $? >"$1/rc.$who"
    done <"$1/pids"
}
client() { # DIR COUNT SEED OUT
    timeout 120 "$HE" $S/client.he "$1" "$2" "$3" >"$4" 2>&1
}

# --- the dealer protocol: answers, two clients at once, what the parties see ---
a=$tmp/a
cluster "$a" 2 dealer 0 "" trace || nok dealer_cluster "cannot set it up: $(cat "$a/owner.out")"
has owner_deals "$a/owner.out" "dealt"
# the owner has exited before any party started: the cluster holds the shares alone
if ls "$a/shares/party-0" "$a/shares/party-1" >/dev/null 2>&1 && [ ! -e "$a/shares/party-2" ]; then
    ok owner_gone_shares_per_party
else nok owner_gone_shares_per_party "$(ls -R "$a/shares")"; fi
client "$a" 3 1 "$a/c1" &
c1=$!
client "$a" 3 2 "$a/c2" &
c2=$!
wait $c1
wait $c2
has dealer_answers "$a/c1" "answers: 3, error below 1e-3: true, classes equal: 3/3"
has dealer_two_clients_at_once "$a/c2" "answers: 3, error below 1e-3: true, classes equal: 3/3"
"$HE" $S/seen_check.he "$a" 2 12 3 1 2 >"$a/seen" 2>&1
has parties_see_shares_only "$a/seen" "values received 192, in the clear 0, small 0"
# the check notices an input in the clear
mkdir -p "$tmp/ctl"
"$HE" -e "let x = load_npy(\"$a/input-1-0.npy\")
save_npy(\"$tmp/ctl/input-1-0.npy\", x)
let r = reshape(arange(8), [1, 8])
for j in 0..8 { r[0, j] = int(round(x[0, j] * 65536.0)) }
save_npy(\"$tmp/ctl/seen-0-0.npy\", r)" >/dev/null 2>&1
"$HE" $S/seen_check.he "$tmp/ctl" 1 1 1 1 >"$tmp/ctl/seen" 2>&1
has seen_check_notices_clear_input "$tmp/ctl/seen" "values received 8, in the clear 8, small"

# a client killed mid-run does not disturb another
timeout 120 "$HE" $S/client.he "$a" 200 3 >/dev/null 2>&1 &
k=$!
sleep 0.3
kill -9 $k 2>/dev/null
wait $k 2>/dev/null
client "$a" 2 4 "$a/c4"
has killed_client_does_not_disturb "$a/c4" "answers: 2, error below 1e-3: true, classes equal: 2/2"

# a client that pins a wrong key for party 1 never reaches it: the request,
# which party 1 did not get, is refused by the cluster
awk 'NR == 1 { k = $3 } NR == 2 { $3 = k } { print }' "$a/cluster" >"$a/wrong"
"$HE" -e "import smpc_serve
let c = smpc_serve.connect(\"$a/wrong\", 2)
print(smpc_serve.query(c, zeros([1, 8])))" >"$a/pin" 2>&1
has client_pins_party_keys "$a/pin" "smpc serve: party 0: another party did not get its share of this request"

# the command-line client: he query CLUSTER FILE.npy, a line a row
"$HE" -e "save_npy(\"$a/rows.npy\", uniform(rng(9), [2, 8], -1.0, 1.0))"
timeout 60 "$HE" query "$a/cluster" "$a/rows.npy" >"$a/q" 2>&1
if grep -q '^0: [0-2] \[' "$a/q" && grep -q '^1: [0-2] \[' "$a/q" && [ "$(wc -l <"$a/q")" = 2 ]; then ok he_query_cluster
else nok he_query_cluster "$(head -c 600 "$a/q")"; fi

# SIGTERM at party 1 stops the whole cluster cleanly
kill -TERM "$(pid "$a" 1)"
waitall "$a"
if [ "$(cat "$a/rc.0" "$a/rc.1" "$a/rc.dealer" | tr -d '\n')" = 000 ] && grep -q "^party 0: answered" "$a/p0.out"; then
    ok sigterm_stops_cluster
else nok sigterm_stops_cluster "exits $(cat "$a"/rc.* | tr '\n' ' '): $(cat "$a"/p*.out | head -c 600)"; fi

# --- rep3: 3 parties, no dealer; stops after 4 requests ---
b=$tmp/b
cluster "$b" 3 rep3 4 || nok rep3_cluster "cannot set it up"
client "$b" 2 5 "$b/c5"
has rep3_answers "$b/c5" "answers: 2, error below 1e-3: true, classes equal: 2/2"
waitall "$b"
if [ "$(cat "$b/rc.0" "$b/rc.1" "$b/rc.2" | tr -d '\n')" = 000 ] && grep -q "^party 2: answered 4$" "$b/p2.out"; then
    ok rep3_stops_after_n_requests
else nok rep3_stops_after_n_requests "exits $(cat "$b"/rc.* | tr '\n' ' '): $(cat "$b"/p*.out | head -c 600)"; fi

# --- an allow list that does not name the client: no party lets it in ---
f=$tmp/f
mkdir -p "$f"
"$HE" -e "import smpc
print(smpc.keygen(\"$f/other.key\"))" >"$f/allow"
cluster "$f" 2 dealer 0 "allow=$f/allow" || nok allow_cluster "cannot set it up"
"$HE" -e "import smpc_serve
let c = smpc_serve.connect(\"$f/cluster\", 2)
print(smpc_serve.params(c))" >"$f/out" 2>&1
has allow_list_refuses_client "$f/out" "no reply from party 0"
kill -TERM "$(pid "$f" 0)"
waitall "$f"
if [ "$(cat "$f/rc.0" "$f/rc.1" "$f/rc.dealer" | tr -d '\n')" = 000 ]; then ok allow_cluster_stops
else nok allow_cluster_stops "exits $(cat "$f"/rc.* | tr '\n' ' '): $(cat "$f"/p*.out | head -c 600)"; fi

# --- a party that stops (then is killed) ends the service with a clear error ---
e=$tmp/e
cluster "$e" 2 dealer 0 || nok stopped_cluster "cannot set it up"
client "$e" 1 6 "$e/c6"
has stopped_cluster_first_answer "$e/c6" "answers: 1, error below 1e-3: true"
p1=$(pid "$e" 1)
kill -STOP "$p1"
client "$e" 1 7 "$e/c7"
kill -9 "$p1"
kill -CONT "$p1" 2>/dev/null
if grep -q "smpc serve: party 0: the cluster stopped: smpc: .*party 1" "$e/c7"; then ok stopped_party_error_to_client
else nok stopped_party_error_to_client "$(head -c 600 "$e/c7")"; fi
waitall "$e"
if [ "$(cat "$e/rc.0")" != 0 ] && grep -q "party 1" "$e/p0.out" && [ "$(cat "$e/rc.dealer")" != 0 ]; then
    ok stopped_party_ends_others
else nok stopped_party_ends_others "exits $(cat "$e"/rc.* | tr '\n' ' '): $(cat "$e/p0.out" "$e/pdealer.out" | head -c 600)"; fi

# --- the MNIST scripts (the Keras CNN, seeded random weights), both protocols ---
if "$HE" -e 'import data
let x = data.mnist("t10k", 0, 2)' >/dev/null 2>&1; then
    mkdir -p "$tmp/w"
    "$HE" -e "import keras_cnn
keras_cnn.init(5)
keras_cnn.save(\"$tmp/w\")" >/dev/null 2>&1
    timeout 300 sh scripts/serve_smpc_local.sh 2 "$tmp/w" >"$tmp/mnist" 2>&1
    rc=$?
    if [ $rc = 0 ] && [ "$(grep -c '^accuracy: [0-9]/2 ' "$tmp/mnist")" = 2 ] &&
        grep -q '^party 1: answered 2 requests$' "$tmp/mnist" && grep -q '^party 2: answered 2 requests$' "$tmp/mnist"; then
        ok mnist_smpc_service_both_protocols
    else nok mnist_smpc_service_both_protocols "exit $rc: $(grep -i -B2 -A3 "error\|accuracy" "$tmp/mnist" | head -c 1500)"; fi
else
    echo "skip mnist_smpc_service_both_protocols: the MNIST data is not found (make data)"
fi
exit 0
