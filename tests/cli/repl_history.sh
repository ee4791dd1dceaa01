#!/bin/sh
# The REPL at a terminal (through script(1), which gives it a pty): a
# multi-line entry is one history entry, in the session and in the history
# file read back by the next session (Up brings back the whole function);
# Tab completes a function's name without a space after it. Prints ok /
# not ok; skipped where script(1) is not installed.
HE=${HE:-build/he}
if ! command -v script >/dev/null 2>&1; then
    echo "skip repl_history: script(1) is not installed"
    exit 0
fi
export HE_HISTFILE="$TMPDIR/hist"
# session 1: a function over three lines, then Ctrl-D
printf 'fn sq(x: int) -> int {\n  return x * x\n}\n\004' |
    timeout 20 script -qec "$HE" /dev/null >"$TMPDIR/o1" 2>&1
if [ "$(grep -c '^#[0-9]' "$HE_HISTFILE")" = 1 ] && grep -q '^  return x \* x$' "$HE_HISTFILE"; then
    echo "ok history_file_one_entry"
else
    echo "not ok history_file_one_entry: $(tr '\n' '|' <"$HE_HISTFILE")"
fi
# session 2: Up, Enter runs the whole function again; then "pri" Tab
# completes print with no space after it
printf '\033[A\npri\t(sq(7) + 1)\n\004' |
    timeout 20 script -qec "$HE" /dev/null >"$TMPDIR/o2" 2>&1
tr -d '\r' <"$TMPDIR/o2" | sed 's/\x1b\[[?0-9;]*[a-zA-Z]//g' >"$TMPDIR/o2.txt"
if grep -q '^50$' "$TMPDIR/o2.txt"; then
    echo "ok history_recalls_multiline_entry"
else
    echo "not ok history_recalls_multiline_entry: $(tail -5 "$TMPDIR/o2.txt" | tr '\n' '|')"
fi
if grep -q 'he> print(sq(7) + 1)$' "$TMPDIR/o2.txt"; then
    echo "ok complete_function_no_space"
else
    echo "not ok complete_function_no_space: $(tail -5 "$TMPDIR/o2.txt" | tr '\n' '|')"
fi
