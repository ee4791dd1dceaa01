#!/bin/sh
# scripts/run_parties_wan.sh: the parties in their own network namespaces
# joined by links with a round-trip delay (bench/smpc/wan.sh's slow
# network). A 2-party product (dealer protocol) and a 3-party one (rep3)
# get through with the right values; a product after a warm-up takes at
# least its rounds times half the round trip (the delay is really there);
# the namespaces are gone afterwards, also when the launcher is stopped
# mid-run (SIGTERM). Skipped, visibly, when not root or without ip/tc.
HE=${HE:-build/he}
export HE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { echo "ok $1"; }
nok() { echo "not ok $1: $2"; }

cat >"$tmp/prod.he" <<'HE'
import smpc
let ctx = smpc.context(2)
let x = smpc.share(ctx, [1.5, -2.0], 0)
let y = smpc.share(ctx, [4.0, 0.25], 1)
let w = smpc.reveal(x * y)
smpc.reset_stats(ctx)
let t0 = clock()
let z = smpc.reveal(x * y)
print(z, "ms", round((clock() - t0) * 1000.0))
print(smpc.stats(ctx))
HE
sed 's/smpc.context(2)/smpc.context(3, "rep3")/' "$tmp/prod.he" >"$tmp/prod3.he"

scripts/run_parties_wan.sh -n 2 -rtt 20 "$tmp/prod.he" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 3 ]; then
    echo "skip smpc_wan: $(cat "$tmp/err")"
    exit 0
fi
tag=$(sed -n 's/.*namespaces \(he[0-9]*\)-0\.\..*/\1/p' "$tmp/out")
if [ $rc -eq 0 ] && [ "$(grep -c '^\[6.0, -0.5\] ms' "$tmp/out")" = 2 ]; then ok wan_dealer_product; else nok wan_dealer_product "exit $rc: $(cat "$tmp/out" "$tmp/err")"; fi
# 4 rounds (2 of the product, the truncation's and the reveal's) of >= 10 ms each
ms=$(sed -n 's/^\[6.0, -0.5\] ms \([0-9]*\).*/\1/p' "$tmp/out" | head -1)
if [ -n "$ms" ] && [ "$ms" -ge 38 ]; then ok wan_delay_shows; else nok wan_delay_shows "a 4-round product took ${ms:-?} ms at 20 ms round trip"; fi
if [ -n "$tag" ] && ! ip netns list | grep -q "^$tag-"; then ok wan_cleaned_up; else nok wan_cleaned_up "tag '$tag': $(ip netns list | tr '\n' ' ')"; fi

scripts/run_parties_wan.sh -rtt 10 "$tmp/prod3.he" >"$tmp/out3" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ "$(grep -c '^\[6.0, -0.5\] ms' "$tmp/out3")" = 3 ]; then ok wan_rep3_product; else nok wan_rep3_product "exit $rc: $(cat "$tmp/out3")"; fi

# stopped mid-run: a script that waits (its parties block on a share that
# party 1 gives only after 30 s)
cat >"$tmp/slow.he" <<'HE'
import smpc
let ctx = smpc.context(2, 0, 16, 60)
let t0 = clock()
if smpc.holds(ctx, 1) { while clock() < t0 + 30.0 { } }
let x = smpc.share(ctx, 1.0, 1)
print(smpc.reveal(x))
HE
scripts/run_parties_wan.sh -rtt 10 "$tmp/slow.he" >"$tmp/out4" 2>&1 &
pid=$!
i=0
while [ $i -lt 50 ] && ! grep -q "namespaces" "$tmp/out4"; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
tag=$(sed -n 's/.*namespaces \(he[0-9]*\)-0\.\..*/\1/p' "$tmp/out4")
kill -TERM $pid 2>/dev/null
wait $pid
rc=$?
sleep 0.2
if [ -n "$tag" ] && [ $rc -ne 0 ] && ! ip netns list | grep -q "^$tag-" && ! ip link show "hb${tag#he}" >/dev/null 2>&1; then
    ok wan_cleaned_up_when_stopped
else
    nok wan_cleaned_up_when_stopped "exit $rc, tag '$tag': $(ip netns list | tr '\n' ' ')"
fi
