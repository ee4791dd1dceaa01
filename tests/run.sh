#!/bin/sh
# The test runner: C unit tests of the runtime, golden tests of .he scripts,
# REPL transcripts, Lua tests of the module. Ends with one line
#   N passed, N failed, N skipped
#
# Unit test programs (and Lua tests) print one line per case:
#   ok NAME | not ok NAME: why | skip NAME: why
# A golden test is tests/**/NAME.he with NAME.out (expected stdout) and/or
# NAME.err (expected stderr) beside it; '# exit: N' in the script gives the
# expected exit status (default 0), '# args: ...' its arguments.
# A REPL test is tests/repl/NAME.in fed to 'he' on stdin, compared with
# NAME.out.
# Every test runs with TMPDIR set to a private, empty folder of its own (a .he
# script reaches it through tmpdir()); in a golden test's or transcript's
# output that folder reads as $TMPDIR, so expected files never name it.
# The docs' examples (tests/doc/run_examples.sh, which states how blocks are
# marked) are one line each: ok / not ok / skip, with file:line.
# Environment: HE (the interpreter), BUILD (build folder), LUA, VERBOSE=1.
HE=${HE:-build/he}
BUILD=${BUILD:-build}
LUA=${LUA:-lua5.4}
TMO=${HE_TEST_TIMEOUT:-600}
pass=0 fail=0 skip=0
failed=""
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ntmp=0
# A fresh private folder for the next test: sets T.
fresh_tmp() { ntmp=$((ntmp + 1)); T="$tmp/t$ntmp"; mkdir -m 700 "$T"; }
# Replaces the test's private folder by $TMPDIR in file $1.
unpath() { sed "s|$T|\$TMPDIR|g" "$1" >"$1.u" && mv "$1.u" "$1"; }

note_fail() { fail=$((fail + 1)); failed="$failed
  $1"; echo "FAIL $1"; }

# Reads ok / not ok / skip lines of a test program's output.
count_cases() { # $1 label, $2 output file, $3 exit status
    p=$(grep -c '^ok ' "$2"); f=$(grep -c '^not ok ' "$2"); s=$(grep -c '^skip ' "$2")
    pass=$((pass + p)); skip=$((skip + s))
    if [ "$f" -gt 0 ]; then
        grep '^not ok ' "$2" | while IFS= read -r l; do echo "FAIL $1: ${l#not ok }"; done
        fail=$((fail + f)); failed="$failed
  $1"
    fi
    if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then note_fail "$1 (exit $3)"; tail -5 "$2"; fi
    [ "$p$f$s" = "000" ] && [ "$3" -eq 0 ] && note_fail "$1 (ran no case)"
    [ -n "$VERBOSE" ] && grep '^skip ' "$2"
    return 0
}

echo "== unit tests"
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    fresh_tmp
    TMPDIR=$T timeout "$TMO" "$t" >"$tmp/out" 2>&1
    count_cases "$(basename "$t")" "$tmp/out" $?
done

echo "== golden tests"
for f in $(find tests -name '*.he' | sort); do
    base=${f%.he}
    [ -f "$base.out" ] || [ -f "$base.err" ] || continue
    want_rc=$(sed -n 's/^# exit: *\([0-9]*\).*/\1/p' "$f" | head -1); want_rc=${want_rc:-0}
    args=$(sed -n 's/^# args: *//p' "$f" | head -1)
    # shellcheck disable=SC2086
    fresh_tmp
    TMPDIR=$T timeout "$TMO" "$HE" "$f" $args >"$tmp/out" 2>"$tmp/err" </dev/null
    rc=$?
    unpath "$tmp/out"; unpath "$tmp/err"
    ok=1
    if [ -f "$base.out" ]; then cmp -s "$base.out" "$tmp/out" || ok=0; else [ -s "$tmp/out" ] && ok=0; fi
    if [ -f "$base.err" ]; then cmp -s "$base.err" "$tmp/err" || ok=0; else [ -s "$tmp/err" ] && ok=0; fi
    [ "$rc" = "$want_rc" ] || ok=0
    if [ $ok = 1 ]; then pass=$((pass + 1)); else
        note_fail "$f (exit $rc, want $want_rc)"
        [ -f "$base.out" ] && diff "$base.out" "$tmp/out" | head -20
        [ -f "$base.err" ] && diff "$base.err" "$tmp/err" | head -20
        [ -f "$base.err" ] || head -5 "$tmp/err"
    fi
done

echo "== repl tests"
for f in tests/repl/*.in; do
    [ -f "$f" ] || continue
    base=${f%.in}
    fresh_tmp
    HOME=$T HE_HISTFILE=$T/hist TMPDIR=$T timeout "$TMO" "$HE" <"$f" >"$tmp/out" 2>&1
    unpath "$tmp/out"
    if cmp -s "$base.out" "$tmp/out"; then pass=$((pass + 1)); else
        note_fail "$f"; diff "$base.out" "$tmp/out" | head -20
    fi
done

echo "== command-line tests"
for f in tests/cli/*.sh; do
    [ -f "$f" ] || continue
    fresh_tmp
    HE="$HE" TMPDIR=$T timeout "$TMO" sh "$f" >"$tmp/out" 2>&1
    count_cases "$f" "$tmp/out" $?
done

echo "== doc examples"
fresh_tmp
HE="$HE" TMPDIR=$T timeout "$TMO" sh tests/doc/run_examples.sh >"$tmp/out" 2>&1
rc=$?
sed -n '/^    /p; /^not ok /p' "$tmp/out"   # a failure's file:line and diff
count_cases "tests/doc/run_examples.sh" "$tmp/out" $rc

echo "== lua tests"
if [ -f "$BUILD/he.so" ] && command -v "$LUA" >/dev/null 2>&1; then
    # an ASan-instrumented module needs the ASan runtime loaded first into lua5.4
    lua_pre=
    if nm -D "$BUILD/he.so" 2>/dev/null | grep -q ' __asan_init'; then
        lua_pre=$(${CC:-cc} -print-file-name=libasan.so)
    fi
    for f in tests/lua/*.lua; do
        [ -f "$f" ] || continue
        fresh_tmp
        TMPDIR=$T timeout "$TMO" env ${lua_pre:+LD_PRELOAD=$lua_pre} LUA_CPATH="$BUILD/?.so;;" "$LUA" "$f" >"$tmp/out" 2>&1
        count_cases "$f" "$tmp/out" $?
    done
else
    n=$(ls tests/lua/*.lua 2>/dev/null | wc -l)
    [ "$n" -gt 0 ] && { echo "skip lua tests: $BUILD/he.so or $LUA missing"; skip=$((skip + n)); }
fi

[ "$fail" -gt 0 ] && printf 'failed:%s\n' "$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
