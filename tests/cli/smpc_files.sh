#!/bin/sh
# SMPC key and party files are written whole and private: smpc.local_parties
# over an existing party file (mode 0644, longer) replaces it by a new file
# (another inode: written aside and renamed, never in place) of mode 0600
# with nothing of the old one left; the keys are 0600; smpc.keygen never
# replaces an existing file (or a link), which stays as it was; no
# temporary file is left behind. Prints ok / not ok lines.
HE=${HE:-build/he}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { echo "ok $1"; }
nok() { echo "not ok $1: $2"; }

mkdir "$tmp/k"
pf="$tmp/k/parties"
head -c 20000 /dev/zero | tr '\0' 'J' >"$pf"
chmod 644 "$pf"
old_inode=$(stat -c %i "$pf")
"$HE" -e "import smpc
print(smpc.local_parties(\"$tmp/k\", 3))" >"$tmp/out" 2>&1
rc=$?
[ "$rc" = 0 ] && grep -qF "$pf" "$tmp/out" && ok local_parties_runs || nok local_parties_runs "exit $rc: $(head -c 300 "$tmp/out")"
mode=$(stat -c %a "$pf")
[ "$mode" = 600 ] && ok party_file_mode_0600 || nok party_file_mode_0600 "mode $mode"
[ "$(stat -c %i "$pf")" != "$old_inode" ] && ok party_file_replaced_not_rewritten ||
    nok party_file_replaced_not_rewritten "same inode: written in place"
size=$(stat -c %s "$pf")
if grep -q JJJJJJJJJJJJJJJJJJJJ "$pf" || [ "$size" -gt 1000 ]; then
    nok party_file_replaced_whole "$size bytes, old bytes left: $(head -c 200 "$pf")"
else ok party_file_replaced_whole; fi
lines=$(grep -c '^[0-9d].* 127\.0\.0\.1:[0-9]* ' "$pf")
[ "$lines" = 4 ] && ok party_file_lists_all || nok party_file_lists_all "$lines nodes listed"
# the ports lie below the kernel's ephemeral range, which outgoing
# connections take from (a port from it could be taken before a party binds)
eph=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
if [ -n "$eph" ] && [ "$eph" -gt 11000 ]; then
    high=$(sed -n 's/^[0-9d][a-z]* 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$pf" | awk -v e="$eph" '$1 >= e || $1 < 10000' | wc -l)
    [ "$high" = 0 ] && ok ports_below_ephemeral_range || nok ports_below_ephemeral_range "$high ports at or above $eph: $(cat "$pf")"
else echo "skip ports_below_ephemeral_range: ephemeral range starts at ${eph:-?}"; fi
# the file is the one the parties read
"$HE" -e "import smpc
smpc.keygen(\"$tmp/x.key\")" >/dev/null 2>&1
bad=0
for f in "$tmp"/k/party-0.key "$tmp"/k/party-1.key "$tmp"/k/party-2.key "$tmp"/k/dealer.key "$tmp/x.key"; do
    m=$(stat -c %a "$f" 2>/dev/null)
    [ "$m" = 600 ] || { bad=1; nok key_mode_0600 "$f: mode ${m:-missing}"; }
done
[ "$bad" = 0 ] && ok key_mode_0600
left=$(find "$tmp" -name '*.tmp' -o -name '*.new' | wc -l)
[ "$left" = 0 ] && ok no_temporaries_left || nok no_temporaries_left "$(find "$tmp" -name '*.tmp' -o -name '*.new')"

# keygen never replaces what is there
cp "$tmp/k/party-0.key" "$tmp/before"
"$HE" -e "import smpc
smpc.keygen(\"$tmp/k/party-0.key\")" >"$tmp/out" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -q "cannot create the key file .*party-0.key: File exists" "$tmp/out" &&
    cmp -s "$tmp/before" "$tmp/k/party-0.key" && ok keygen_keeps_existing_key ||
    nok keygen_keeps_existing_key "exit $rc: $(head -c 300 "$tmp/out")"
echo "not a key" >"$tmp/target"
ln -s "$tmp/target" "$tmp/link.key"
"$HE" -e "import smpc
smpc.keygen(\"$tmp/link.key\")" >"$tmp/out" 2>&1
rc=$?
[ "$rc" = 1 ] && [ "$(cat "$tmp/target")" = "not a key" ] && [ -L "$tmp/link.key" ] && ok keygen_keeps_link ||
    nok keygen_keeps_link "exit $rc, target: $(head -c 100 "$tmp/target")"
left=$(find "$tmp" -name '*.tmp' -o -name '*.new' | wc -l)
[ "$left" = 0 ] && ok no_temporaries_left_after_refusal || nok no_temporaries_left_after_refusal "$left left"
