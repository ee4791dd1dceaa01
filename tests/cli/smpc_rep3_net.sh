#!/bin/sh
# The rep3 protocol (three parties, replicated sharing, no dealer) with the
# parties as separate processes on 127.0.0.1 (ZeroMQ + CURVE), through
# scripts/run_parties.sh: every party prints the same checks as the
# simulated run (results against plaintext within the bounds of
# tests/lang/crypto/smpc_rep3.he), the dealer process of a rep3 script
# ends at once with 0, reveal_to reaches only the named party, and a party
# killed mid-run makes the other two stop with an error naming it within
# the context's timeout (2 s), also in a loop of truncations alone; Z_p
# under rep3 ("rep3:P") gives the simulated results; the CNN of smpc_cnn_small_rep3.he agrees
# with plaintext; scripts/reservoir_xor.he (training on shares) and
# scripts/secure_average.he run with the one change smpc.context(3, "rep3"),
# simulated and as processes. Prints ok / not ok lines.
HE=${HE:-build/he}
export HE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { echo "ok $1"; }
nok() { echo "not ok $1: $2"; }

cat >"$tmp/ops.he" <<'HE'
import smpc
let ulp = 1.0 / 65536.0
let ctx = smpc.context(3, "rep3")
let g = rng(7)
let A = uniform(g, [4, 5], -8.0, 8.0)
let B = uniform(g, [4, 5], -8.0, 8.0)
let M = uniform(g, [5, 3], -2.0, 2.0)
let I = uniform(g, [1, 6, 6], 0.0, 1.0)
let K = uniform(g, [2, 1, 3, 3], -1.0, 1.0)
fn check(name: str, e: float, bound: float) {
  if e <= bound { print("ok", name) } else { print("not ok", name, e, ">", bound) }
}
let a = smpc.share(ctx, A, 0)
let b = smpc.share(ctx, B, 1)
let m = smpc.share(ctx, M, 2)
check("add", max(abs(smpc.reveal(a + b) - (A + B))), ulp)
check("mul", max(abs(smpc.reveal(a * b) - A * B)), 18.0 * ulp)
check("matmul", max(abs(smpc.reveal(a @ m) - A @ M)), 55.0 * ulp)
check("public", max(abs(smpc.reveal(a * 0.375 + 1.0) - (A * 0.375 + 1.0))), 2.0 * ulp)
check("sum", max(abs(smpc.reveal(smpc.sum(smpc.transpose(a), 1)) - sum(A, 0))), 4.0 * ulp)
let c = smpc.reveal(smpc.avgpool(smpc.conv2d(smpc.share(ctx, I, 0), smpc.share(ctx, K, 1), 1, 1), 2))
print("conv shape", c.shape)
check("relu", max(abs(smpc.reveal(smpc.relu(a)) - relu(A))), ulp)
check("max", max(abs(smpc.reveal(smpc.max(a, b)) - (A + B + abs(A - B)) / 2.0)), ulp)
print("argmax", smpc.reveal(smpc.argmax(a)), argmax(A, 1))
print("maxpool", smpc.reveal(smpc.maxpool(smpc.share(ctx, I, 2), 2)))
let i = smpc.share(ctx, [3, -7, 12], 1)
print(smpc.reveal(i * i - i))
print("to party 2:", smpc.reveal_to(i, [2]))
HE
"$HE" "$tmp/ops.he" >"$tmp/sim" 2>&1 || nok rep3_simulated "$(head -c 300 "$tmp/sim")"
sh scripts/run_parties.sh "$tmp/ops.he" >"$tmp/net" 2>&1
rc=$?
[ "$rc" = 0 ] && ok rep3_net_exit || nok rep3_net_exit "exit $rc: $(tail -c 400 "$tmp/net")"
grep -q '^== dealer (exit 0)$' "$tmp/net" && ok rep3_dealer_not_needed || nok rep3_dealer_not_needed "$(head -c 300 "$tmp/net")"
for p in 0 1 2; do
    sed -n "/^== party $p/,/^== /p" "$tmp/net" | grep -v '^== ' | grep -v '^<smpc context' | grep -v '^to party' >"$tmp/p$p"
    grep -v '^to party' "$tmp/sim" >"$tmp/s"
    if cmp -s "$tmp/p$p" "$tmp/s" && [ "$(grep -c '^ok ' "$tmp/s")" = 7 ]; then ok "rep3_party${p}_matches_simulated"
    else nok "rep3_party${p}_matches_simulated" "$(diff "$tmp/p$p" "$tmp/s" | head -c 300)"; fi
done
n=$(grep -c '^to party 2: nil$' "$tmp/net")
m=$(grep -c '^to party 2: \[3, -7, 12\]$' "$tmp/net")
[ "$n" = 2 ] && [ "$m" = 1 ] && ok rep3_reveal_to || nok rep3_reveal_to "$n nil, $m values"

# --- a party killed mid-run (in a loop of products: every party waits for
# another in each resharing; a loop of public products would not notice,
# party 0 only sends there) ---
cat >"$tmp/long.he" <<'HE'
import smpc
let ctx = smpc.context(3, "rep3", 16, 2)
let x = smpc.share(ctx, [1.0, 2.0], 0)
let one = smpc.share(ctx, [1.0, 1.0], 2)
let i = 0
while i < 100000000 { x = x * one; i += 1 }   # each party waits for the next one's reshare
print(smpc.reveal(x))
HE
mkdir "$tmp/k"
"$HE" -e "import smpc
smpc.local_parties(\"$tmp/k\", 3)" >/dev/null
pf="$tmp/k/parties"
for p in 0 1 2; do
    "$HE" --party "$p" --parties "$pf" "$tmp/long.he" >"$tmp/k$p" 2>&1 &
    eval "pid$p=\$!"
done
sleep 1.5
kill -9 "$pid1" 2>/dev/null
start=$(date +%s)
wait "$pid0"; r0=$?
wait "$pid2"; r2=$?
wait "$pid1" 2>/dev/null
took=$(($(date +%s) - start))
[ "$r0" = 1 ] && [ "$r2" = 1 ] && ok rep3_killed_party_stops_others || nok rep3_killed_party_stops_others "exit $r0 $r2: $(head -c 300 "$tmp/k0")"
grep -q "party 1" "$tmp/k0" && grep -q "party 1" "$tmp/k2" && ok rep3_killed_party_named ||
    nok rep3_killed_party_named "$(head -c 300 "$tmp/k0") / $(head -c 300 "$tmp/k2")"
[ "$took" -le 8 ] && ok rep3_killed_party_within_timeout || nok rep3_killed_party_within_timeout "${took}s"

# --- the same in a loop of public products (a truncation alone: party 0
# sends to party 2; parties 1 and 2 send an empty message to parties 0
# and 1 so that each waits for one other): party 1 killed is noticed ---
cat >"$tmp/trunc.he" <<'HE'
import smpc
let ctx = smpc.context(3, "rep3", 16, 2)
let x = smpc.share(ctx, [1.0, 2.0], 0)
let i = 0
while i < 100000000 { x = x * 1.0; i += 1 }
print(smpc.reveal(x))
HE
for p in 0 1 2; do
    "$HE" --party "$p" --parties "$pf" "$tmp/trunc.he" >"$tmp/t$p" 2>&1 &
    eval "pid$p=\$!"
done
sleep 1.5
kill -9 "$pid1" 2>/dev/null
wait "$pid1" 2>/dev/null
i=0
while [ $i -lt 80 ] && { kill -0 "$pid0" 2>/dev/null || kill -0 "$pid2" 2>/dev/null; }; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$pid0" 2>/dev/null || kill -0 "$pid2" 2>/dev/null; then
    kill -9 "$pid0" "$pid2" 2>/dev/null
    wait "$pid0" "$pid2" 2>/dev/null
    nok rep3_truncation_notices_killed_party "parties 0 and 2 still ran 8 s after party 1 was killed"
else
    wait "$pid0"; r0=$?
    wait "$pid2"; r2=$?
    if [ "$r0" = 1 ] && [ "$r2" = 1 ] && grep -q "party 1" "$tmp/t0" && grep -q "party 1" "$tmp/t2"; then
        ok rep3_truncation_notices_killed_party
    else nok rep3_truncation_notices_killed_party "exit $r0 $r2: $(head -c 300 "$tmp/t0") / $(head -c 300 "$tmp/t2")"; fi
fi

# --- Z_p under rep3 ("rep3:P") as processes: the same as simulated ---
cat >"$tmp/zp.he" <<'HE'
import smpc
let ctx = smpc.context(3, "rep3:501337")
let x = smpc.share(ctx, [[25, -3, 1000], [7, 0, -250]], 0)
let y = smpc.share(ctx, [[17, 8, -250], [1, 2, 3]], 1)
let w = smpc.share(ctx, [[1], [2], [3]], 2)
print(smpc.reveal(x + y), smpc.reveal(x * y - 1), smpc.reveal(x @ w), smpc.reveal(smpc.sum(x * 3)))
print(smpc.reveal_to(y, [2]))
print(smpc.stats(ctx))
HE
"$HE" "$tmp/zp.he" >"$tmp/zp_sim" 2>&1
scripts/run_parties.sh -n 3 "$tmp/zp.he" >"$tmp/zp_net" 2>&1
rc=$?
want=$(head -1 "$tmp/zp_sim")
n=$(grep -c -F -x -- "$want" "$tmp/zp_net")
if [ $rc -eq 0 ] && [ "$want" = "[[42, 5, 750], [8, 2, -247]] [[424, -25, -250001], [6, -1, -751]] [[3019], [-743]] 2337" ] && [ "$n" = 3 ] &&
    grep -q '^nil$' "$tmp/zp_net" && [ "$(grep -c -F -x '[[17, 8, -250], [1, 2, 3]]' "$tmp/zp_net")" = 1 ]; then
    ok rep3_zp_net
else nok rep3_zp_net "exit $rc, $n parties agree: $(head -c 600 "$tmp/zp_sim") / $(head -c 600 "$tmp/zp_net")"; fi

# --- a party that runs the dealer protocol among rep3 parties is refused ---
printf 'import smpc\nlet ctx = smpc.context(3, "rep3", 16, 2)\nprint("never")\n' >"$tmp/r.he"
printf 'import smpc\nlet ctx = smpc.context(3, 0, 16, 2)\nprint("never")\n' >"$tmp/d.he"
"$HE" --party 0 --parties "$pf" "$tmp/r.he" >"$tmp/m0" 2>&1 &
q0=$!
"$HE" --party 1 --parties "$pf" "$tmp/r.he" >"$tmp/m1" 2>&1 &
q1=$!
"$HE" --party 2 --parties "$pf" "$tmp/d.he" >"$tmp/m2" 2>&1
r2=$?
wait "$q0"; r0=$?
wait "$q1"; r1=$?
if [ "$r0" = 1 ] && [ "$r1" = 1 ] && [ "$r2" = 1 ] && grep -q "another configuration" "$tmp/m0" && ! grep -q never "$tmp/m0" "$tmp/m2"; then
    ok rep3_mixed_protocols_refused
else nok rep3_mixed_protocols_refused "exit $r0 $r1 $r2: $(head -c 300 "$tmp/m0") / $(head -c 300 "$tmp/m2")"; fi

# --- the private CNN in miniature, as three processes under rep3 ---
sh scripts/run_parties.sh tests/lang/crypto/smpc_cnn_small_rep3.he >"$tmp/cnn" 2>&1
rc=$?
if [ "$rc" = 0 ] && grep -q '^agreement with the plaintext network: 6/6$' "$tmp/cnn" &&
    grep -q '^largest logit error below 1e-3: true$' "$tmp/cnn"; then ok rep3_cnn_net
else nok rep3_cnn_net "exit $rc: $(tail -c 300 "$tmp/cnn")"; fi

# --- the demonstrations with the one change smpc.context(3, "rep3") ---
for demo in reservoir_xor secure_average; do
    sed 's/smpc\.context([23])/smpc.context(3, "rep3")/' "scripts/$demo.he" >"$tmp/$demo.he"
    grep -q 'smpc.context(3, "rep3")' "$tmp/$demo.he" || nok "rep3_${demo}_edit" "no context to change"
done
"$HE" "$tmp/reservoir_xor.he" >"$tmp/xs" 2>&1
sh scripts/run_parties.sh "$tmp/reservoir_xor.he" >"$tmp/xn" 2>&1
rc=$?
n=$(grep -c '^accuracy: 4/4 (100.0%)$' "$tmp/xn")
grep -q '^accuracy: 4/4 (100.0%)$' "$tmp/xs" && [ "$rc" = 0 ] && [ "$n" = 3 ] && ok rep3_reservoir_xor ||
    nok rep3_reservoir_xor "exit $rc, $n parties with 4/4: $(tail -c 300 "$tmp/xs")"
sh scripts/run_parties.sh "$tmp/secure_average.he" >"$tmp/an" 2>&1
rc=$?
n=$(grep -c '^average gradient: \[-0.676[0-9]*, 1.711[0-9]*, -1.13' "$tmp/an")
[ "$rc" = 0 ] && [ "$n" = 3 ] && ok rep3_secure_average ||
    nok rep3_secure_average "exit $rc, $n parties with the average: $(tail -c 300 "$tmp/an")"
