#!/bin/bash
# run_parties_wan.sh: runs a .he script as run_parties.sh does (one process
# per SMPC party and the dealer, ZeroMQ + CURVE), but each process in its
# own Linux network namespace, joined by a bridge through veth pairs whose
# links have a round-trip delay and a rate: a slow network on one machine.
#
#   scripts/run_parties_wan.sh [-n N] [-rtt MS] [-rate MBIT] script.he [args...]
#
# Defaults: the N of run_parties.sh, -rtt 10, -rate 1000. Each node's
# interface gets tc netem (delay RTT/2 and the rate, on its egress: RTT
# between any two nodes). On a kernel without netem (sch_netem), the
# delay and rate come from a user-space TCP relay (bench/smpc/wan/relay.c,
# compiled on the fly) in each namespace instead, and the output says so.
# Needs root, ip and tc: otherwise it says why and exits with 3 (skip).
# The namespaces, the bridge and the relays are removed on every exit.
# Environment: HE (default build/he), CC (for the relay, default cc).
# Exit status: 0 when every process exited with 0, 1 otherwise, 2 usage,
# 3 cannot run here.
HE=${HE:-build/he}
n= rtt=10 rate=1000
while [ $# -gt 0 ]; do
    case $1 in
    -n) n=$2; shift 2 ;;
    -rtt) rtt=$2; shift 2 ;;
    -rate) rate=$2; shift 2 ;;
    *) break ;;
    esac
done
if [ $# -lt 1 ] || [ ! -f "$1" ]; then
    echo "usage: $0 [-n N] [-rtt MS] [-rate MBIT] script.he [args...]" >&2
    exit 2
fi
script=$1; shift
if [ -z "$n" ]; then
    n=$(sed -n 's/.*smpc\.context(\([0-9][0-9]*\).*/\1/p' "$script" | head -1)
    if [ -z "$n" ]; then echo "$0: cannot find smpc.context(N in $script: give -n N" >&2; exit 2; fi
fi
if [ "$(id -u)" != 0 ]; then echo "$0: skipped: network namespaces need root" >&2; exit 3; fi
for c in ip tc; do
    command -v $c >/dev/null 2>&1 || { echo "$0: skipped: no '$c' command (iproute2)" >&2; exit 3; }
done

t=$$
tag=he$t
dir=$(mktemp -d "${TMPDIR:-/tmp}/he-wan.XXXXXX") || exit 1
relays= pids=
cleanup() {
    for p in $pids $relays; do kill "$p" 2>/dev/null; done
    for k in $(seq 0 "$n"); do ip netns del "$tag-$k" 2>/dev/null; done
    ip link del "hb$t" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

net="10.$((t % 200 + 20)).$(((t / 200) % 250))"
half_us=$((rtt * 500))
ip link add "hb$t" type bridge && ip link set "hb$t" up || { echo "$0: skipped: cannot make a bridge" >&2; exit 3; }
# nodes 0..n-1 the parties, n the dealer; node k has address $net.(k+1)
for k in $(seq 0 "$n"); do
    ns=$tag-$k
    ip netns add "$ns" &&
        ip link add "hv${t}a$k" type veth peer name "hv${t}b$k" &&
        ip link set "hv${t}a$k" master "hb$t" up &&
        ip link set "hv${t}b$k" netns "$ns" &&
        ip -n "$ns" addr add "$net.$((k + 1))/24" dev "hv${t}b$k" &&
        ip -n "$ns" link set "hv${t}b$k" up &&
        ip -n "$ns" link set lo up || { echo "$0: skipped: cannot set up namespace $ns" >&2; exit 3; }
done
mode=netem
if ! tc -n "$tag-0" qdisc add dev "hv${t}b0" root netem delay "${half_us}us" rate "${rate}mbit" 2>/dev/null; then
    mode=relay
    relay=$dir/relay
    "${CC:-cc}" -std=c17 -O2 -o "$relay" "$(dirname "$0")/../bench/smpc/wan/relay.c" ||
        { echo "$0: cannot compile the relay" >&2; exit 1; }
    echo "# tc netem is not available in this kernel: the delay and rate come from a user-space TCP relay in each namespace"
else
    for k in $(seq 1 "$n"); do
        tc -n "$tag-$k" qdisc add dev "hv${t}b$k" root netem delay "${half_us}us" rate "${rate}mbit" ||
            { echo "$0: tc netem failed on node $k" >&2; exit 1; }
    done
fi
echo "# $n parties and the dealer in network namespaces $tag-0..$n; round trip ${rtt} ms, ${rate} Mbit/s per node ($mode)"

"$HE" -e "import smpc
smpc.local_parties(\"$dir\", $n)" >/dev/null || { echo "$0: cannot make the party file" >&2; exit 1; }
# node k's own line gets its address; the others the address it reaches
# them at (netem: theirs; relay: its relay's port 6000+j on 127.0.0.1)
for k in $(seq 0 "$n"); do
    mkdir "$dir/node-$k"
    awk -v n="$n" -v k="$k" -v net="$net" -v mode="$mode" '
        /^#/ { print; next }
        { j = $1 == "dealer" ? n : $1
          a = (mode == "netem" || j == k) ? net "." (j + 1) ":5000" : "127.0.0.1:" (6000 + j)
          print $1, a, $3 }' "$dir/parties" >"$dir/node-$k/parties"
    if [ "$mode" = relay ]; then
        specs=
        for j in $(seq 0 "$n"); do [ "$j" = "$k" ] || specs="$specs $((6000 + j)):$net.$((j + 1)):5000"; done
        # shellcheck disable=SC2086
        ip netns exec "$tag-$k" "$relay" "$half_us" "$((rate * 1000000))" $specs &
        relays="$relays $!"
    fi
done
[ "$mode" = relay ] && sleep 0.2

for k in $(seq 0 "$n"); do
    if [ "$k" = "$n" ]; then role=dealer key=$dir/dealer.key; else role=$k key=$dir/party-$k.key; fi
    ip netns exec "$tag-$k" "$HE" --party "$role" --parties "$dir/node-$k/parties" --key "$key" "$script" "$@" \
        >"$dir/node-$k/out" 2>&1 &
    pids="$pids $!"
done
status=0
k=0
parts=
for p in $pids; do
    wait "$p"; rc=$?
    [ "$k" = "$n" ] && name=dealer || name="party $k"
    out=$dir/node-$k/out
    # the dealer's first, as run_parties.sh prints it
    if [ "$k" = "$n" ]; then dealer_out="== $name (exit $rc)
$(cat "$out")"; else parts="$parts== $name (exit $rc)
$(cat "$out")
"; fi
    [ "$rc" -eq 0 ] || status=1
    k=$((k + 1))
done
echo "$dealer_out"
printf '%s' "$parts"
exit $status
