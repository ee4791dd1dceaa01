#!/bin/sh
# smpc.plan's rounds and bytes against a real run with the parties as
# separate processes (scripts/run_parties.sh, ZeroMQ + CURVE on
# 127.0.0.1): under rep3 (three processes) and the dealer protocol (two
# parties and the dealer), each party process plans the function (locally:
# nothing is sent) and then runs it on shares; the traffic it counts for
# the run equals the plan's line for that party. Simulated, the whole
# stats line equals the plan's. `he --plan` prints each plan and stops at
# the first smpc.share outside a plan: nothing is shared. Prints ok / not
# ok lines.
HE=${HE:-build/he}
export HE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { echo "ok $1"; }
nok() { echo "not ok $1: $2"; }

for proto in rep3 dealer; do
    if [ $proto = rep3 ]; then mk='smpc.context(3, "rep3")'; else mk='smpc.context(2)'; fi
    cat >"$tmp/$proto.he" <<HE
import smpc
let ctx = $mk
fn f(x, w, b) {
  let h = smpc.relu(x @ w + b)
  return smpc.argmax(h * 0.5 - smpc.sum(h) * 0.25)
}
let X = uniform(rng(1), [3, 6], -1.0, 1.0)
let W = uniform(rng(2), [6, 4], -1.0, 1.0)
let p = smpc.plan(f, smpc.input(ctx, [3, 6], 1.0, 0), smpc.input(ctx, [6, 4], 1.0, 1), [0.5, -0.5, 0.25, 0.0])
let x = smpc.share(ctx, X, 0)
let w = smpc.share(ctx, W, 1)
smpc.reset_stats(ctx)
let y = f(x, w, [0.5, -0.5, 0.25, 0.0])
let s = smpc.stats(ctx)
print(smpc.reveal(y))
print("planned:", smpc.stats(p, smpc.me(ctx)))
print("measured:", s)
print("same:", smpc.stats(p, smpc.me(ctx)) == s)
HE
    "$HE" "$tmp/$proto.he" >"$tmp/sim" 2>&1
    if grep -q '^same: true$' "$tmp/sim"; then ok "smpc_plan_${proto}_simulated"
    else nok "smpc_plan_${proto}_simulated" "$(head -c 400 "$tmp/sim")"; fi
    sh scripts/run_parties.sh "$tmp/$proto.he" >"$tmp/net" 2>&1
    rc=$?
    n=$(grep -c '^same: true$' "$tmp/net")
    want=3; [ $proto = dealer ] && want=2
    # each process's result is the simulated one; its own bytes are the plan's
    r=$(grep -c "^$(grep -v ':' "$tmp/sim" | head -1 | sed 's/[][]/\\&/g')\$" "$tmp/net")
    if [ "$rc" = 0 ] && [ "$n" = $want ] && [ "$r" = $want ]; then ok "smpc_plan_${proto}_processes"
    else nok "smpc_plan_${proto}_processes" "exit $rc, $n of $want equal, $r results: $(grep -e planned -e measured "$tmp/net" | head -c 600)"; fi
done

# he --plan: the plans printed (here twice: by --plan and by print), the
# script stopped at its first smpc.share outside a plan
out=$("$HE" --plan "$tmp/rep3.he" 2>"$tmp/err")
rc=$?
n=$(printf '%s\n' "$out" | grep -c '^<smpc plan of <fn f>: 3 parties, rep3')
if [ $rc = 0 ] && [ "$n" = 1 ] && ! printf '%s\n' "$out" | grep -q '^same' &&
    grep -q '^he --plan: stopped at smpc.share (rep3.he:10): nothing was shared$' "$tmp/err"; then ok smpc_plan_mode
else nok smpc_plan_mode "rc $rc, $n plans, $(cat "$tmp/err")"; fi
