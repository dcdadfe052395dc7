# ckpt inspect describes an image; --json prints one valid JSON document.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
start_state_program mem_anon
"$CKPT" checkpoint -o "$case_dir/image" "$target_pid" 2>"$case_dir/stderr" ||
	fail "checkpoint: $(head -1 "$case_dir/stderr")"
"$CKPT" inspect "$case_dir/image" >"$case_dir/text" 2>"$case_dir/stderr" ||
	fail "inspect: $(head -1 "$case_dir/stderr")"
[ -s "$case_dir/text" ] || fail "inspect printed nothing"
grep -q "$target_pid" "$case_dir/text" || fail "inspect does not mention pid $target_pid"
"$CKPT" inspect --json "$case_dir/image" >"$case_dir/json" 2>"$case_dir/stderr" ||
	fail "inspect --json: $(head -1 "$case_dir/stderr")"
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$case_dir/json" 2>"$case_dir/stderr" ||
	fail "inspect --json is not JSON: $(tail -1 "$case_dir/stderr")"
expect_pass "$target_pid" "$target_out" "$target_in"
exit 0
