#!/bin/bash
# bench/vm: the same three programs in he and in Lua 5.4, run side by side.
# Prints each CPU time (user + system, median of 5) and the ratio he/Lua
# (target <= 1.0). CPU time, not wall time, so other load matters less.
HE=${HE:-build/he}
LUA=${LUA:-lua5.4}
command -v "$LUA" >/dev/null 2>&1 || { echo "bench vm: $LUA not found (apt-get install lua5.4)" >&2; exit 1; }
# The median of 5 runs' CPU times (not the fastest: the machines are shared).
median5() {
    local k ts=""
    for k in 1 2 3 4 5; do
        ts="$ts $( { TIMEFORMAT='%3U %3S'; time "$@" >/dev/null; } 2>&1 | awk '{print $1 + $2}')"
    done
    echo $ts | tr ' ' '\n' | sort -g | sed -n 3p
}
for name in fib loop tensor; do
    # both must print the same answer
    a=$("$HE" bench/vm/$name.he) || exit 1
    b=$("$LUA" bench/vm/$name.lua) || exit 1
    [ "$a" = "$b" ] || { echo "bench vm.$name: he printed $a, Lua printed $b" >&2; exit 1; }
    th=$(median5 "$HE" bench/vm/$name.he)
    tl=$(median5 "$LUA" bench/vm/$name.lua)
    awk -v n="$name" -v h="$th" -v l="$tl" 'BEGIN {
        printf "bench vm.%s.he %.0f ms\n", n, h * 1000
        printf "bench vm.%s.lua %.0f ms\n", n, l * 1000
        printf "bench vm.%s.ratio %.2f x\n", n, (l > 0 ? h / l : 0) }'
done
