#!/bin/sh
# Test hygiene: no file under tests/ names a fixed path in the system's
# temporary folder. Tests write only into the private folder the runner
# gives each one ($TMPDIR; tmpdir() in a .he script, check_tmpdir() in C,
# T.tmppath() in Lua), so two runs of the suite at once cannot collide.
# Prints ok / not ok lines like the unit tests.
root=${HE_ROOT:-.}
slash_tmp="/""tmp" # spelled in two pieces so this file does not match itself
bad=$(grep -rlE "(^|[^A-Za-z0-9_.\$-])$slash_tmp([^A-Za-z0-9_]|\$)" "$root/tests" 2>/dev/null)
if [ -z "$bad" ]; then echo "ok no_fixed_tmp_paths"
else echo "not ok no_fixed_tmp_paths: $(echo $bad) name $slash_tmp; use \$TMPDIR, tmpdir(), check_tmpdir() or T.tmppath()"; fi
# the check finds what it must find
mkdir -p "$TMPDIR/probe"
printf 'save_npy("%s/x.npy", zeros([1]))\n' "$slash_tmp" >"$TMPDIR/probe/t.he"
if grep -rlqE "(^|[^A-Za-z0-9_.\$-])$slash_tmp([^A-Za-z0-9_]|\$)" "$TMPDIR/probe"; then echo "ok check_finds_fixed_path"
else echo "not ok check_finds_fixed_path: the pattern missed a fixed path"; fi
