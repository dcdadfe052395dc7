# `ckpt checkpoint -o FILE` where FILE is a FIFO or a character device
# writes into it, as a shell's > would, and leaves it what it was: a
# rename over it (the way regular files are replaced atomically) would turn
# /dev/null into a regular file holding the image.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"

file_type() {
	stat -c %F "$1"
}

start_state_program mem_heap

fifo=$case_dir/fifo
mkfifo "$fifo" || fail "mkfifo"
cat "$fifo" >"$case_dir/from-fifo.img" &
reader=$!
"$CKPT" checkpoint -o "$fifo" "$target_pid" 2>"$case_dir/stderr" ||
	fail "checkpoint into a FIFO: $(head -1 "$case_dir/stderr")"
wait "$reader" || fail "the FIFO's reader failed"
[ "$(file_type "$fifo")" = fifo ] || fail "the FIFO became a $(file_type "$fifo")"
"$CKPT" inspect "$case_dir/from-fifo.img" >/dev/null 2>"$case_dir/stderr" ||
	fail "the image read from the FIFO: $(head -1 "$case_dir/stderr")"

null=$case_dir/null
mknod -m 666 "$null" c 1 3 || skip "cannot make a null device here"
"$CKPT" checkpoint -o "$null" "$target_pid" 2>"$case_dir/stderr" ||
	fail "checkpoint into a null device: $(head -1 "$case_dir/stderr")"
[ "$(file_type "$null")" = "character special file" ] ||
	fail "the null device became a $(file_type "$null")"
ls "$case_dir" | grep -q '\.tmp\.' && fail "a temporary file was left: $(ls "$case_dir")"

"$CKPT" checkpoint --kill -o "$case_dir/image" "$target_pid" 2>"$case_dir/stderr" ||
	fail "last checkpoint: $(head -1 "$case_dir/stderr")"
wait "$target_pid" 2>/dev/null
restart_detached "$CKPT" "$case_dir/image"
expect_pass "$restored_pid" "$restored_out" "$restored_in"
exit 0
