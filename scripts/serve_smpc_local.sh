#!/bin/sh
# The SMPC service on this machine (doc/serve.md, "SMPC service"): makes the
# parties' keys and party file (smpc.local_parties) and the cluster file
# for clients (smpc_serve.local_cluster), lets the model owner deal the
# Keras CNN's weights (scripts/mnist_smpc_owner.he; it then exits), starts
# the cluster (scripts/mnist_smpc_server.he: the dealer and 2 parties, or 3
# parties with rep3), classifies test images with a client
# (scripts/mnist_smpc_client.he), then stops the cluster with SIGTERM to
# party 0 (every party stops; the dealer ends when they are done).
# Needs the weights of scripts/mnist_cnn_train.he (build/mnist_cnn by default).
#
#   sh scripts/serve_smpc_local.sh [count [weights folder [dealer|rep3|both]]]
HE=${HE:-build/he}
count=${1:-100}
dir=${2:-build/mnist_cnn}
which=${3:-both}
tmp=$(mktemp -d)
pids=
trap 'for p in $pids $dealer; do kill -TERM "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
status=0
run() { # dealer|rep3
    proto=$1 n=2 opt=
    [ "$proto" = rep3 ] && n=3 opt=rep3
    d=$tmp/$proto
    mkdir -p "$d"
    "$HE" -e "import smpc
import smpc_serve
smpc.local_parties(\"$d\", $n)
smpc_serve.local_cluster(\"$d\")" >/dev/null || return 1
    echo "== the owner deals ($proto)"
    "$HE" scripts/mnist_smpc_owner.he "$d/shares" "$dir" $opt || return 1
    pids=
    dealer=
    if [ "$proto" = dealer ]; then
        "$HE" --party dealer --parties "$d/parties" scripts/mnist_smpc_server.he "$d/shares" "$d/cluster" \
            >"$d/dealer.out" 2>&1 &
        dealer=$!
    fi
    i=0
    while [ $i -lt $n ]; do
        "$HE" --party $i --parties "$d/parties" scripts/mnist_smpc_server.he "$d/shares" "$d/cluster" $opt \
            >"$d/party-$i.out" 2>&1 &
        pids="$pids $!"
        i=$((i + 1))
    done
    echo "== the client ($proto: $n parties$( [ "$proto" = dealer ] && echo " and the dealer"))"
    "$HE" scripts/mnist_smpc_client.he "$d/cluster" "$count"
    rc=$?
    # SIGTERM to one computing party: the request in flight is finished and
    # every party stops (a second signal to a party already stopped would
    # end its script with "terminated"); the dealer then ends by itself
    set -- $pids
    kill -TERM "$1" 2>/dev/null
    for p in $pids $dealer; do wait "$p" || rc=1; done
    pids=
    cat "$d"/party-*.out
    return $rc
}
case $which in
dealer | rep3) run "$which" || status=1 ;;
*) run dealer || status=1; run rep3 || status=1 ;;
esac
exit $status
