#!/bin/sh
# The HE service on this machine: makes a server key, starts the MNIST server
# (scripts/mnist_server.he) in the background, classifies test images with a
# client (scripts/mnist_client.he), then stops the server with SIGTERM.
# Needs the weights of scripts/mnist_train.he (in build/mnist by default).
#
#   sh scripts/serve_local.sh [count [weights folder [port]]]
HE=${HE:-build/he}
count=${1:-4096}
dir=${2:-build/mnist}
port=${3:-5555}
tmp=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill -TERM "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
pub=$("$HE" -e "import smpc
print(smpc.keygen(\"$tmp/server.key\"))") || exit 1
"$HE" scripts/mnist_server.he "tcp://127.0.0.1:$port" "$tmp/server.key" "$dir" &
server=$!
"$HE" scripts/mnist_client.he "tcp://127.0.0.1:$port" "$pub" "$count"
rc=$?
kill -TERM "$server"
wait "$server"
server=
exit $rc
