# Privileges: what an unprivileged user (ckpt-test-user, created if
# missing) may and may not do with ckpt, and what images and restarts
# write.
#
#  - as the user, restarting the user's own image without
#    CAP_CHECKPOINT_RESTORE fails with a message naming that capability
#    and creates no process;
#  - as the user, checkpointing a root process (with and without --kill)
#    fails cleanly ("not yours"/permission), writes nothing, and the target
#    runs on untraced and intact;
#  - as the user (even with CAP_CHECKPOINT_RESTORE), restarting a root image
#    (given on stdin; of a root process with all capabilities, and of one
#    that dropped them all) is refused with a message about uid or
#    capabilities before any process is created (strace sees no clone
#    without CLONE_THREAD) and its PID stays free;
#  - images are created mode 0600, also under umask 000 and over an
#    existing 0644 file, and a symlink at OUT is replaced, not followed;
#  - restart never writes to a path named inside the image: a regular file
#    open O_RDWR and O_WRONLY|O_APPEND keeps its contents, size, mtime and
#    ctime through a restart.
# The capability cases are in reliability_capabilities.sh.
# Results: $BUILD/reliability/reliability_privileges.tsv.
source "$(dirname "$0")/../reliability/common.bash"
need_target
start_results reliability_privileges
setup_test_user

CAPABILITY_WORDS='CAP_[A-Z_]+|capabilit'
PERMISSION_WORDS='not yours|permission|not permitted|cannot trace'
UID_WORDS='uid|capabilit'

# verdict AREA ITEM PROBLEMS PASS-DETAIL: a row from a list of problems.
verdict() {
	if [ -n "$3" ]; then
		problem "$1" "$2" "${3%; }"
	else
		record "$1" "$2" pass "$4"
	fi
}

one_line_problem() {
	local lines
	lines=$(grep -c . "$1")
	[ "$lines" -eq 1 ] || echo -n "$lines lines on stderr; "
	grep -qiE "$2" "$1" || echo -n "the message does not match /$2/: $(head -1 "$1"); "
}

# The user restarts the user's own image: needs CAP_CHECKPOINT_RESTORE.
user_restarts_own_image() {
	local problems= status pid
	start_user_target --mib 1 --threads 1 || fail "$target_error"
	pid=$target_pid
	# root takes the image (a user without capabilities cannot: see
	# reliability_capabilities), then hands it to the user
	"$CKPT" checkpoint --kill -o "$stage/user/own.img" "$pid" 2>"$case_dir/stderr" ||
		fail "root checkpoint of the user's process: $(head -1 "$case_dir/stderr")"
	chown "$TEST_USER:" "$stage/user/own.img"
	wait_gone "$pid" 10 || fail "the user's process stays after --kill"
	close_pipes "$target_in" "$target_out"
	timeout -k 5 30 "${AS_USER[@]}" "$USER_CKPT" restart --detach "$stage/user/own.img" \
		</dev/null >/dev/null 2>"$case_dir/stderr"
	status=$?
	if [ "$status" -eq 0 ]; then
		record privilege "user restarts own image (no capabilities)" info "it works"
		kill_and_reap "$pid"
		return
	fi
	[ "$status" -eq 1 ] || problems+="exit status $status; "
	problems+=$(one_line_problem "$case_dir/stderr" "$CAPABILITY_WORDS")
	wait_gone "$pid" 5 || problems+="pid $pid exists ($(process_state "$pid")); "
	verdict privilege "user restarts own image (no capabilities)" "$problems" \
		"refused: $(head -1 "$case_dir/stderr")"
}

# The user checkpoints a root process: refused, target untouched.
user_checkpoints_root_process() {
	local mode flags problems status answer out
	start_target --mib 4 --threads 2 || fail "$target_error"
	for mode in live kill; do
		problems=
		flags=()
		[ "$mode" = kill ] && flags=(--kill)
		out=$stage/user/root-$mode.img
		timeout -k 5 30 "${AS_USER[@]}" "$USER_CKPT" checkpoint "${flags[@]}" -o "$out" "$target_pid" \
			>/dev/null 2>"$case_dir/stderr"
		status=$?
		[ "$status" -eq 1 ] || problems+="exit status $status; "
		problems+=$(one_line_problem "$case_dir/stderr" "$PERMISSION_WORDS")
		[ -z "$(ls -d "$out" "$out".tmp.* 2>/dev/null)" ] || problems+="left $(ls -d "$out"*); "
		problems+=$(freedom_problems "$target_pid")
		answer=$(ask "$target_pid" "$target_in" "$target_out" check) ||
			problems+="; the target's check says: $answer"
		verdict privilege "user checkpoints a root process ($mode)" "${problems#; }" \
			"refused: $(head -1 "$case_dir/stderr")"
	done
	kill_and_reap "$target_pid"
	close_pipes "$target_in" "$target_out"
}

# The clone/clone3/fork/vfork calls of an strace log that make a process
# (not a thread) once ckpt runs (timeout(1) forks before it execs ckpt).
process_clones_in_ckpt() {
	sed -n '/execve("[^"]*ckpt"/,$p' "$1" | grep -E '(clone3?|v?fork)\(' | grep -v CLONE_THREAD
}

# The user restarts a root image: refused before any process exists.  $1
# "full" (a root process with all capabilities) or "none" (a root process
# that dropped them all, bounding set included: only its uid says root).
user_restarts_root_image() {
	local variant=$1 problems= status pid tracer=()
	[ "$variant" = none ] && TARGET_WRAPPER=(setpriv --bounding-set=-all --inh-caps=-all)
	start_target --mib 1 --threads 1 || fail "$target_error"
	TARGET_WRAPPER=()
	pid=$target_pid
	"$CKPT" checkpoint --kill -o "$case_dir/root.img" "$pid" 2>"$case_dir/stderr" ||
		fail "checkpoint of a root process: $(head -1 "$case_dir/stderr")"
	wait_gone "$pid" 10 || fail "the root process stays after --kill"
	close_pipes "$target_in" "$target_out"
	command -v strace >/dev/null &&
		tracer=(strace -f -qq -o "$case_dir/strace" -e trace=clone,clone3,fork,vfork,execve)
	"${tracer[@]}" timeout -k 5 30 "${AS_USER_CR[@]}" "$USER_CKPT" restart --detach \
		<"$case_dir/root.img" >/dev/null 2>"$case_dir/stderr"
	status=$?
	[ "$status" -eq 1 ] || problems+="exit status $status; "
	problems+=$(one_line_problem "$case_dir/stderr" "$UID_WORDS")
	if [ ${#tracer[@]} -gt 0 ]; then
		grep -q 'execve("[^"]*ckpt"' "$case_dir/strace" || problems+="strace did not see ckpt run; "
		[ -z "$(process_clones_in_ckpt "$case_dir/strace")" ] ||
			problems+="a process was created: $(process_clones_in_ckpt "$case_dir/strace" | head -1); "
	fi
	[ ! -e "/proc/$pid" ] || { problems+="pid $pid exists ($(process_state "$pid")); "; kill_and_reap "$pid"; }
	verdict privilege "user (even with CAP_CHECKPOINT_RESTORE) restarts a root image (capabilities: $variant)" \
		"$problems" "refused before any process exists$([ ${#tracer[@]} -gt 0 ] || echo " (strace missing: not traced)"): $(head -1 "$case_dir/stderr")"
}

mode_of() {
	stat -c '%a %U' "$1" 2>/dev/null
}

# Images are created 0600 whatever the umask, over any existing file.
image_modes() {
	local problems=
	start_target --mib 1 --threads 1 || fail "$target_error"
	(umask 000; "$CKPT" checkpoint -o "$case_dir/umask.img" "$target_pid" 2>"$case_dir/stderr") ||
		fail "checkpoint: $(head -1 "$case_dir/stderr")"
	[ "$(mode_of "$case_dir/umask.img")" = "600 root" ] ||
		problems+="under umask 000 the image is $(mode_of "$case_dir/umask.img"); "
	echo old >"$case_dir/existing.img"
	chmod 644 "$case_dir/existing.img"
	"$CKPT" checkpoint -o "$case_dir/existing.img" "$target_pid" 2>"$case_dir/stderr" ||
		fail "checkpoint over a file: $(head -1 "$case_dir/stderr")"
	[ "$(mode_of "$case_dir/existing.img")" = "600 root" ] ||
		problems+="over an existing 0644 file the image is $(mode_of "$case_dir/existing.img"); "
	echo "not an image" >"$case_dir/elsewhere"
	ln -s "$case_dir/elsewhere" "$case_dir/link.img"
	"$CKPT" checkpoint -o "$case_dir/link.img" "$target_pid" 2>"$case_dir/stderr" ||
		fail "checkpoint onto a symlink: $(head -1 "$case_dir/stderr")"
	[ "$(cat "$case_dir/elsewhere")" = "not an image" ] || problems+="the file a symlink at OUT named was written; "
	[ ! -L "$case_dir/link.img" ] && [ "$(mode_of "$case_dir/link.img")" = "600 root" ] ||
		problems+="a symlink at OUT is not replaced by a 0600 image; "
	kill_and_reap "$target_pid"
	close_pipes "$target_in" "$target_out"
	verdict images "image file mode" "$problems" "0600 under umask 000, over an existing 0644 file, and in place of a symlink (not followed)"
}

# Restart writes nothing to the files the image names.
restart_leaves_files_alone() {
	local problems= before after answer pid data=$case_dir/data
	start_target --mib 1 --threads 1 --file "$data" || fail "$target_error"
	pid=$target_pid
	"$CKPT" checkpoint --kill -o "$case_dir/files.img" "$pid" 2>"$case_dir/stderr" ||
		fail "checkpoint: $(head -1 "$case_dir/stderr")"
	wait_gone "$pid" 10 || fail "the target stays after --kill"
	close_pipes "$target_in" "$target_out"
	sleep 0.02	# mtimes have a tick: a write in the same tick could hide
	before=$(file_identity "$data")
	restart_image "$case_dir/files.img" "$CKPT"
	[ "$restart_status" -eq 0 ] || fail "restart: $restart_message"
	after=$(file_identity "$data")
	[ "$after" = "$before" ] || problems+="right after restart the file is '$after', was '$before'; "
	answer=$(ask "$pid" "$restored_in" "$restored_out" go) || problems+="the process's check says: $answer; "
	wait_gone "$pid" 10 || kill_and_reap "$pid"
	after=$(file_identity "$data")
	[ "$after" = "$before" ] || problems+="after the process ran the file is '$after', was '$before'; "
	verdict files "restart writes no file named in the image" "$problems" \
		"an O_RDWR and an O_WRONLY|O_APPEND fd: contents, size, mtime, ctime, inode unchanged"
}

user_restarts_own_image
user_checkpoints_root_process
user_restarts_root_image full
user_restarts_root_image none
image_modes
restart_leaves_files_alone
finish_case "privileges: as $TEST_USER, root's processes and images are refused; images 0600; restart writes no named file" reliability_privileges
