# An image whose CPU state holds a subset of this CPU's xstate features (made
# on an older CPU, or by a checkpoint under valgrind, which shows fewer) must
# restart: a real image is rewritten by tests/tools/xstate_rewrite as if a
# CPU with only x87/SSE (features 0x3) had saved it, and cpu_fpu restarted
# from it keeps its x87 and MXCSR state; cpu_avx rewritten to x87/SSE/AVX
# (0x7, no AVX-512) keeps its ymm registers.  An image claiming a feature
# this CPU lacks is refused before anything is created, with one line
# naming the feature.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
read -r -a WARNINGS <<<"$(make -s --no-print-directory print-warn)"
REWRITE=$BUILD/tests/tools/xstate_rewrite
mkdir -p "$BUILD/tests/tools"
"${CC:-cc}" -D_GNU_SOURCE -Iinclude -Isrc "${WARNINGS[@]}" -O1 -g tests/tools/xstate_rewrite.c \
	"$BUILD/libckpt.a" -o "$REWRITE" || fail "cannot build xstate_rewrite"

# checkpoint_program NAME IMAGE: a state program checkpointed with --kill.
checkpoint_program() {
	start_state_program "$1"
	"$CKPT" checkpoint --kill -o "$2" "$target_pid" 2>"$case_dir/stderr" ||
		fail "checkpoint of $1: $(head -1 "$case_dir/stderr")"
	wait "$target_pid" 2>/dev/null
	exec {target_in}>&- {target_out}<&-
}

# restart_subset NAME FEATURES: NAME's image cut to FEATURES restarts and passes.
restart_subset() {
	local name=$1 features=$2 image=$case_dir/$1.img
	checkpoint_program "$name" "$image"
	"$REWRITE" subset "$features" "$image" "$image.subset" || fail "cannot rewrite the $name image"
	"$CKPT" inspect "$image.subset" >/dev/null 2>"$case_dir/stderr" ||
		fail "the rewritten $name image fails inspect: $(head -1 "$case_dir/stderr")"
	restart_detached "$CKPT" "$image.subset"
	[ "$restored_pid" = "$target_pid" ] || fail "$name restored as pid $restored_pid, was $target_pid"
	expect_pass "$restored_pid" "$restored_out" "$restored_in"
	exec {restored_in}>&- {restored_out}<&-
}

# A feature the image's CPU (this one) lacks: AVX-512 when it has none, else APX.
absent_feature() {
	if (($1 & 0xe0)); then
		echo "0x80000 APX"
	else
		echo "0xe0 AVX-512"
	fi
}

expect_refused() {
	local image=$case_dir/cpu_fpu.img features absent name status
	features=$("$REWRITE" features "$image") || fail "cannot read the image's features"
	read -r absent name <<<"$(absent_feature "$features")"
	"$REWRITE" claim "$absent" "$image" "$image.claim" || fail "cannot rewrite the image"
	status=$(status_of "$CKPT" restart --detach "$image.claim")
	[ "$status" -eq 1 ] || fail "restart of an image claiming $name exited $status, expected 1"
	expect_one_line "$case_dir/stderr" "restart of an image claiming $name"
	grep -q "uses $name (bit" "$case_dir/stderr" ||
		fail "the refusal does not name $name: $(head -1 "$case_dir/stderr")"
	! is_running "$target_pid" || fail "pid $target_pid exists after the refused restart"
}

restart_subset cpu_fpu 0x3
expect_refused
avx_features=$("$REWRITE" features "$case_dir/cpu_fpu.img")
if ((avx_features & 0x4)); then
	restart_subset cpu_avx 0x7
	echo "x87/SSE-only and AVX-only images restart on this CPU ($avx_features); a claimed missing feature is refused by name"
else
	echo "an x87/SSE-only image restarts on this CPU ($avx_features, no AVX); a claimed missing feature is refused by name"
fi
exit 0
