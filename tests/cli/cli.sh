#!/bin/sh
# The command line: options, exit statuses, stdin, arguments, --dump.
# Prints ok / not ok lines like the unit tests.
HE=${HE:-build/he}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
t() { # name, expected status, command...
    name=$1 want=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" = "$want" ]; then echo "ok $name"; else echo "not ok $name: exit $rc, want $want ($(head -c 200 "$tmp/err"))"; fi
}
has() { # name, file, text
    if grep -qF -- "$3" "$2"; then echo "ok $1"; else echo "not ok $1: '$3' not in output"; fi
}
t help 0 "$HE" --help
has help_text "$tmp/out" "usage: he"
t version 0 "$HE" --version
has version_text "$tmp/out" "he 0."
t snippet 0 "$HE" -e 'print(6 * 7)'
has snippet_out "$tmp/out" "42"
printf 'print("from stdin", 1 + 1)\n' >"$tmp/s.he"
t stdin 0 sh -c "\"$HE\" - <\"$tmp/s.he\""
has stdin_out "$tmp/out" "from stdin 2"
printf 'print(argc(), argv(0), argv(1))\n' >"$tmp/a.he"
t args 0 "$HE" "$tmp/a.he" first second
has args_out "$tmp/out" "2 first second"
t dump 0 "$HE" --dump bench/vm/fib.he
has dump_fn "$tmp/out" "function fib"
has dump_lines "$tmp/out" "[2]"
has dump_ops "$tmp/out" "JLTIK"
printf 'let x: int = "no"\n' >"$tmp/bad.he"
t check_bad 65 "$HE" --check "$tmp/bad.he"
has check_msg "$tmp/err" "bad.he:1:14: error:"
t check_good 0 "$HE" --check bench/vm/fib.he
t missing_file 74 "$HE" "$tmp/nonexistent.he"
has missing_msg "$tmp/err" "cannot open"
t bad_option 64 "$HE" --frobnicate
printf 'fn f() {\n  while true {\n    let w = zeros([3])\n    break\n  }\n}\n' >"$tmp/brk.he"
t dump_break 0 "$HE" --dump "$tmp/brk.he"
grep -B1 -E 'JMP +[0-9]+ ' "$tmp/out" >"$tmp/brk"
has break_releases "$tmp/brk" "CLEAR"
t missing_arg 64 "$HE" -e
has missing_arg_msg "$tmp/err" "he: -e needs an argument"
t runtime_error 1 "$HE" -e 'print(1 / 0)'
has runtime_msg "$tmp/err" "runtime error: division by zero"
t compile_error 65 "$HE" -e 'print(undefined)'
t lua_missing_file 74 "$HE" --lua "$tmp/nonexistent.lua"
has lua_missing_msg "$tmp/err" "cannot open"
# --party and --parties go together and the party must be in the file: usage
# errors (64) before the script runs (it would print "ran")
printf 'print("ran")\n' >"$tmp/ran.he"
t party_without_parties 64 "$HE" --party 0 "$tmp/ran.he"
has party_without_parties_msg "$tmp/err" "--party needs --parties"
if grep -q ran "$tmp/out"; then echo "not ok party_without_parties_ran"; else echo "ok party_without_parties_ran"; fi
t parties_without_party 64 "$HE" --parties "$tmp/parties" "$tmp/ran.he"
has parties_without_party_msg "$tmp/err" "--parties needs --party"
mkdir "$tmp/k"
"$HE" -e "import smpc
smpc.local_parties(\"$tmp/k\", 2)" >/dev/null
t party_out_of_range 64 "$HE" --party 5 --parties "$tmp/k/parties" "$tmp/ran.he"
has party_out_of_range_msg "$tmp/err" "--party 5, but the party file"
if grep -q ran "$tmp/out"; then echo "not ok party_out_of_range_ran"; else echo "ok party_out_of_range_ran"; fi
t party_in_range 0 "$HE" --party 1 --parties "$tmp/k/parties" "$tmp/ran.he"
# --plan runs in one process before any party connects: with --party it is refused
t plan_with_party 64 "$HE" --plan --party 1 --parties "$tmp/k/parties" "$tmp/ran.he"
has plan_with_party_msg "$tmp/err" "--plan plans the script in this one process"
if grep -q ran "$tmp/out"; then echo "not ok plan_with_party_ran"; else echo "ok plan_with_party_ran"; fi
# a NUL byte inside a string literal is an error, not a string cut short
printf 'let s = "ab\000cd"\nprint(len(s))\n' >"$tmp/nul.he"
t nul_in_string 65 "$HE" "$tmp/nul.he"
has nul_in_string_msg "$tmp/err" "nul.he:1:12: error: a NUL byte (0x00) inside a string literal"
