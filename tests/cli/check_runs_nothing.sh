#!/bin/sh
# Checking never runs code: `he --check` reads an imported module's source
# to learn its names and types, and runs none of it. The module here writes
# a file when its top level runs; the same script, run, writes it.
# Prints ok / not ok lines like the unit tests.
HE=${HE:-build/he}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir "$d/out"
cat >"$d/writes.he" <<'HE'
save_npy(tmpdir() + "/ran.npy", zeros([1]))
let n: int = 41
fn twice(x: float) -> float { return 2.0 * x }
HE
cat >"$d/main.he" <<'HE'
import writes
save_npy(tmpdir() + "/main.npy", zeros([1]))
print(writes.n + 1, writes.twice(1.5))
HE
cat >"$d/bad.he" <<'HE'
import writes
let s: str = writes.n
print(writes.twice("x"))
HE
t() { # name, expected status, command...
    name=$1 want=$2
    shift 2
    "$@" >"$d/stdout" 2>"$d/stderr"
    rc=$?
    if [ "$rc" = "$want" ]; then echo "ok $name"; else echo "not ok $name: exit $rc, want $want ($(head -c 300 "$d/stderr"))"; fi
}
absent() { if [ -e "$2" ]; then echo "not ok $1: $2 was written"; else echo "ok $1"; fi; }
has() { if grep -qF -- "$3" "$2"; then echo "ok $1"; else echo "not ok $1: '$3' not in $(cat "$2")"; fi; }

# --check: the module's interface is known (types check), nothing runs
TMPDIR=$d/out t check_ok 0 "$HE" --check "$d/main.he"
absent check_module_not_run "$d/out/ran.npy"
absent check_script_not_run "$d/out/main.npy"
if [ -s "$d/stdout" ]; then echo "not ok check_prints_nothing: $(head -c 200 "$d/stdout")"; else echo "ok check_prints_nothing"; fi
# the interface carries static types: misuses are errors found by --check
TMPDIR=$d/out t check_types 65 "$HE" --check "$d/bad.he"
has check_global_type "$d/stderr" "bad.he:2:21: error: 's' is declared str but the value is int"
has check_fn_type "$d/stderr" "bad.he:3:20: error: argument 1 of twice: expected float, got str"
absent check_bad_not_run "$d/out/ran.npy"
# running it runs the module once, at the import, before the script's code
TMPDIR=$d/out t run 0 "$HE" "$d/main.he"
has run_out "$d/stdout" "42 3"
if [ -e "$d/out/ran.npy" ] && [ -e "$d/out/main.npy" ]; then echo "ok run_writes"; else echo "not ok run_writes"; fi
