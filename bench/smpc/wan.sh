#!/bin/bash
# The seed CNN on one image (bench/smpc/mnist.sh, unfused) over a slow
# network: every party and the dealer in its own network namespace, the
# links with a 10 ms round trip at 1 Gbit/s (wan10), then 50 ms at 100
# Mbit/s (wan50), through scripts/run_parties_wan.sh (tc netem, or its
# user-space relay where the kernel has no netem); both protocols. Lines
# bench smpc.wan10.cnn.ms (dealer protocol), smpc.wan10.rep3.cnn.ms, .mb,
# .rounds, ... Needs root, ip and tc: otherwise one visible skip line.
# WAN_RUNS runs each (default 5): the median.
HE=${HE:-build/he}
export HE
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null 2>&1 || ! command -v tc >/dev/null 2>&1; then
    echo "# skip smpc.wan: network namespaces and tc need root and iproute2 (ip, tc)"
    exit 0
fi
here=$(dirname "$0")
for profile in "10 1000" "50 100"; do
    set -- $profile
    echo "# slow network: round trip $1 ms, $2 Mbit/s per node, each node in its own namespace (scripts/run_parties_wan.sh)"
    LAUNCH="scripts/run_parties_wan.sh -rtt $1 -rate $2" PREFIX="wan$1." PLAIN=1 RUNS=${WAN_RUNS:-5} \
        bash "$here/mnist.sh" | grep -v '^# weights\|^# skip' || exit 1
done
