#!/bin/sh
# The HE service on this machine: makes a server key, starts the MNIST server
# (scripts/mnist_server.he) in the background, classifies test images with a
# client (scripts/mnist_client.he), then stops the server with SIGTERM.
# With WORKERS=N (N >= 1) in the environment, a front (scripts/serve_front.he)
# and N workers (scripts/mnist_worker.he) serve instead of one server.
# Needs the weights of scripts/mnist_train.he (in build/mnist by default).
#
#   sh scripts/serve_local.sh [count [weights folder [port]]]
HE=${HE:-build/he}
count=${1:-4096}
dir=${2:-build/mnist}
port=${3:-5555}
workers=${WORKERS:-0}
tmp=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill -TERM "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
key() { "$HE" -e "import smpc
print(smpc.keygen(\"$1\"))"; }
pub=$(key "$tmp/server.key") || exit 1
if [ "$workers" -gt 0 ]; then
    waddr="tcp://127.0.0.1:$((port + 1))"
    i=0
    while [ $i -lt "$workers" ]; do key "$tmp/w$i.key" >>"$tmp/workers" || exit 1; i=$((i + 1)); done
    "$HE" scripts/serve_front.he "tcp://127.0.0.1:$port" "$waddr" "$tmp/server.key" "$tmp/workers" &
    server=$!
    i=0
    while [ $i -lt "$workers" ]; do
        "$HE" scripts/mnist_worker.he "$waddr" "$pub" "$tmp/w$i.key" "$dir" | tee "$tmp/w$i.out" &
        i=$((i + 1))
    done
    # the workers are ready once their weights are loaded (at most 60 s)
    i=0
    while [ "$(cat "$tmp"/w*.out | grep -c '^worker of')" -lt "$workers" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    sleep 1
else
    "$HE" scripts/mnist_server.he "tcp://127.0.0.1:$port" "$tmp/server.key" "$dir" &
    server=$!
fi
"$HE" scripts/mnist_client.he "tcp://127.0.0.1:$port" "$pub" "$count"
rc=$?
kill -TERM "$server"
wait "$server"
server=
wait
exit $rc
