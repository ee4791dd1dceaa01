#!/bin/sh
# SMPC with the parties as separate processes on 127.0.0.1 (ZeroMQ + CURVE):
# the demonstration scripts through scripts/run_parties.sh, the dealer's
# clean exit, a party killed mid-run making the others stop with an error
# (within the context's timeout, 2 s here), and the refusals: a missing or
# damaged party file, a key that is not the one the file lists, --parties
# without --party. Prints ok / not ok lines.
HE=${HE:-build/he}
export HE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { echo "ok $1"; }
nok() { echo "not ok $1: $2"; }
has() { # name, file, text
    if grep -qF -- "$3" "$2"; then ok "$1"; else nok "$1" "'$3' not in $(head -c 300 "$2")"; fi
}

# --- the demonstrations, networked ---
sh scripts/run_parties.sh scripts/reservoir_xor.he >"$tmp/xor" 2>&1
rc=$?
[ "$rc" = 0 ] && ok net_reservoir_xor_exit || nok net_reservoir_xor_exit "exit $rc: $(tail -c 400 "$tmp/xor")"
n=$(grep -c '^accuracy: 4/4 (100.0%)$' "$tmp/xor")
[ "$n" = 2 ] && ok net_reservoir_xor_both_parties || nok net_reservoir_xor_both_parties "$n parties print accuracy 4/4"
has net_dealer_clean_exit "$tmp/xor" "== dealer (exit 0)"

sh scripts/run_parties.sh scripts/shares_demo.he >"$tmp/demo" 2>&1
rc=$?
n=$(grep -c '^sum revealed: 16000$' "$tmp/demo")
[ "$rc" = 0 ] && [ "$n" = 3 ] && ok net_shares_demo || nok net_shares_demo "exit $rc, $n parties with the sum"

sh scripts/run_parties.sh scripts/secure_average.he >"$tmp/avg" 2>&1
rc=$?
# (the last digit may differ from run to run: truncation is exact to 1 ulp)
n=$(grep -c '^average gradient: \[-0.676[0-9]*, 1.711[0-9]*, -1.13' "$tmp/avg")
u=$(grep '^average gradient: ' "$tmp/avg" | sort -u | wc -l)
[ "$rc" = 0 ] && [ "$n" = 3 ] && [ "$u" = 1 ] && ok net_secure_average ||
    nok net_secure_average "exit $rc, $n parties with the average, $u different averages"

# the same script simulated gives the same predictions (the printed digits
# may differ in the last place: truncation is exact to within 1 ulp)
"$HE" scripts/reservoir_xor.he >"$tmp/sim" 2>&1
sed -n '/^== party 0/,/^== party 1/p' "$tmp/xor" | grep ' xor ' | awk '{print $1, $3, $NF}' >"$tmp/a"
grep ' xor ' "$tmp/sim" | awk '{print $1, $3, $NF}' >"$tmp/b"
cmp -s "$tmp/a" "$tmp/b" && [ "$(wc -l <"$tmp/a")" = 4 ] && ok net_matches_simulated || nok net_matches_simulated "predictions differ"

# --- a party killed mid-run ---
cat >"$tmp/long.he" <<'HE'
import smpc
let ctx = smpc.context(2, 0, 16, 2)
let x = smpc.share(ctx, [1.0, 2.0], 0)
let i = 0
while i < 100000000 { x = x * 1.0; i += 1 }
print(smpc.reveal(x))
HE
mkdir "$tmp/k"
"$HE" -e "import smpc
smpc.local_parties(\"$tmp/k\", 2)" >/dev/null
pf="$tmp/k/parties"
"$HE" --party dealer --parties "$pf" "$tmp/long.he" >"$tmp/kd" 2>&1 &
dp=$!
"$HE" --party 0 --parties "$pf" "$tmp/long.he" >"$tmp/k0" 2>&1 &
p0=$!
"$HE" --party 1 --parties "$pf" "$tmp/long.he" >"$tmp/k1" 2>&1 &
p1=$!
sleep 1.5
kill -9 "$p1" 2>/dev/null
start=$(date +%s)
wait "$p0"; r0=$?
wait "$dp"; rd=$?
wait "$p1" 2>/dev/null
took=$(($(date +%s) - start))
[ "$r0" = 1 ] && ok killed_party_stops_party0 || nok killed_party_stops_party0 "exit $r0: $(head -c 300 "$tmp/k0")"
has killed_party_named "$tmp/k0" "party 1"
[ "$rd" = 1 ] && ok killed_party_stops_dealer || nok killed_party_stops_dealer "exit $rd: $(head -c 300 "$tmp/kd")"
[ "$took" -le 8 ] && ok killed_party_within_timeout || nok killed_party_within_timeout "${took}s"

# --- refusals ---
t() { # name, expected status, text expected on stderr, command...
    name=$1 want=$2 text=$3
    shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" = "$want" ] && grep -qF -- "$text" "$tmp/err"; then ok "$name"
    else nok "$name" "exit $rc (want $want): $(head -c 300 "$tmp/err")"; fi
}
printf 'import smpc\nlet ctx = smpc.context(2)\nprint("never")\n' >"$tmp/two.he"
t missing_party_file 1 "cannot" "$HE" --party 0 --parties "$tmp/none/parties" "$tmp/two.he"
printf '0 127.0.0.1:1 short\n' >"$tmp/bad.parties"
t damaged_party_file 1 "smpc" "$HE" --party 0 --parties "$tmp/bad.parties" "$tmp/two.he"
printf 'import smpc\nlet ctx = smpc.context(3)\n' >"$tmp/three.he"
t party_count_mismatch 1 "lists 2 parties" "$HE" --party 0 --parties "$pf" "$tmp/three.he"
"$HE" -e "import smpc
smpc.keygen(\"$tmp/other.key\")" >/dev/null
t foreign_key 1 "key" "$HE" --party 0 --parties "$pf" --key "$tmp/other.key" "$tmp/two.he"
t parties_without_party 64 "--parties needs --party" "$HE" --parties "$pf" "$tmp/two.he"
t party_out_of_range 64 "--party 5" "$HE" --party 5 --parties "$pf" "$tmp/two.he"
