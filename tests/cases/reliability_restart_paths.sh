# Restart and the paths an image names: restart opens the files of the
# image again by path, so whatever is at that path by then must not make it
# hang, create or write anything, or hand the process a file it could not
# open itself.
#
#  - the file was deleted: restart fails with one line, creates nothing, and
#    leaves no process;
#  - the file (open O_WRONLY|O_APPEND) was replaced by a FIFO: restart must
#    not hang (10 s), fails with one line, leaves no process;
#  - a user's process had its own file open; the user then replaced the
#    path by a symlink to a file only root may read (0600 in a 0700
#    directory), and root restarts the image: the restored process (the
#    user's uid) must not hold that file open;
#  - likewise a user's process whose cwd the user replaced by a symlink to
#    that root-only directory: the restored process must not sit in it;
#  - and the ordinary case: root restarts a user's image whose files did not
#    change, which must work (the user's files open as the user).
# Results: $BUILD/reliability/reliability_restart_paths.tsv.
source "$(dirname "$0")/../reliability/common.bash"
need_target
start_results reliability_restart_paths
setup_test_user

RUN_SECONDS=10

verdict() {
	if [ -n "$3" ]; then
		problem "$1" "$2" "${3%; }"
	else
		record "$1" "$2" pass "$4"
	fi
}

# checkpoint --kill of the current target into $1.
image_of_target() {
	"$CKPT" checkpoint --kill -o "$1" "$target_pid" 2>"$case_dir/stderr" ||
		fail "checkpoint: $(head -1 "$case_dir/stderr")"
	wait_gone "$target_pid" 10 || fail "the target stays after --kill"
	close_pipes "$target_in" "$target_out"
}

# The outcome of a restart that must fail: $1 status, $2 pid; problems.
failed_restart_problems() {
	case $1 in
	1) ;;
	124 | 137) echo -n "restart still running after $RUN_SECONDS s; " ;;
	*) echo -n "exit status $1; " ;;
	esac
	[ "$(grep -c . "$case_dir/stderr")" -eq 1 ] || echo -n "not one line on stderr: $(head -c 200 "$case_dir/stderr"); "
	if [ -e "/proc/$2" ]; then
		echo -n "pid $2 exists ($(process_state "$2")); "
		kill -KILL "$2" 2>/dev/null
	fi
}

# After restart_image failed: one line on stderr, no process left.
refused_restart_problems() {
	[ "$(grep -c . "$restart_stderr")" -eq 1 ] || echo -n "not one line on stderr: $(head -c 200 "$restart_stderr"); "
	if [ -e "/proc/$target_pid" ]; then
		echo -n "pid $target_pid exists ($(process_state "$target_pid")); "
		kill_and_reap "$target_pid"
	fi
}

deleted_file() {
	local problems= status log=$case_dir/deleted.log
	start_target --mib 1 --threads 1 --file "$log" || fail "$target_error"
	image_of_target "$case_dir/deleted.img"
	rm -f "$log"
	timeout -k 5 "$RUN_SECONDS" "$CKPT" restart --detach "$case_dir/deleted.img" \
		</dev/null >/dev/null 2>"$case_dir/stderr"
	status=$?
	problems+=$(failed_restart_problems "$status" "$target_pid")
	[ ! -e "$log" ] || problems+="restart created $log; "
	verdict paths "the file was deleted" "$problems" "refused: $(head -1 "$case_dir/stderr")"
}

file_became_fifo() {
	local problems= status log=$case_dir/fifo.log
	start_target --mib 1 --threads 1 --append-file "$log" || fail "$target_error"
	image_of_target "$case_dir/fifo.img"
	rm -f "$log"
	mkfifo "$log"
	timeout -k 5 "$RUN_SECONDS" "$CKPT" restart --detach "$case_dir/fifo.img" \
		</dev/null >/dev/null 2>"$case_dir/stderr"
	status=$?
	problems+=$(failed_restart_problems "$status" "$target_pid")
	verdict paths "the file (open O_WRONLY) became a FIFO" "$problems" "refused: $(head -1 "$case_dir/stderr")"
}

# A directory only root may enter, holding a file only root may read.
make_root_only_dir() {
	secret_dir=$stage/root-only
	mkdir -m 700 "$secret_dir" && echo "root's secret" >"$secret_dir/secret" && chmod 600 "$secret_dir/secret" ||
		fail "cannot make $secret_dir/secret"
}

symlink_to_root_file() {
	local problems= fd link
	start_user_target --mib 1 --threads 1 --file "$stage/user/data" || fail "$target_error"
	image_of_target "$case_dir/user.img"
	"${AS_USER[@]}" ln -sf "$secret_dir/secret" "$stage/user/data" ||
		fail "the user cannot replace the file by a symlink"
	restart_image "$case_dir/user.img" "$CKPT"
	if [ "$restart_status" -ne 0 ]; then
		verdict paths "a user's file became a symlink to a root-only file (root restarts)" \
			"$(refused_restart_problems)" "refused: $restart_message"
		return
	fi
	for fd in /proc/"$target_pid"/fd/*; do
		link=$(readlink "$fd")
		[ "$link" = "$secret_dir/secret" ] && problems+="fd ${fd##*/} of the restored process (uid $(awk '/^Uid:/ {print $2}' "/proc/$target_pid/status")) is open on $link; "
	done
	ask "$target_pid" "$restored_in" "$restored_out" go >/dev/null && problems+="its own check passes with that file; "
	kill_and_reap "$target_pid"
	verdict paths "a user's file became a symlink to a root-only file (root restarts)" "$problems" \
		"restarted, but the process holds no fd on the root-only file"
}

cwd_became_symlink_to_root_dir() {
	local problems= cwd=$stage/user/cwd item="a user's cwd became a symlink to a root-only directory (root restarts)"
	"${AS_USER[@]}" mkdir "$cwd" || fail "the user cannot make $cwd"
	USER_TARGET_CWD=$cwd start_user_target --mib 1 --threads 1 || fail "$target_error"
	image_of_target "$case_dir/user-cwd.img"
	"${AS_USER[@]}" sh -c 'rmdir "$1" && ln -s "$2" "$1"' sh "$cwd" "$secret_dir" ||
		fail "the user cannot replace the cwd by a symlink"
	restart_image "$case_dir/user-cwd.img" "$CKPT"
	if [ "$restart_status" -ne 0 ]; then
		verdict paths "$item" "$(refused_restart_problems)" "refused: $restart_message"
		return
	fi
	[ "$(readlink "/proc/$target_pid/cwd")" != "$secret_dir" ] ||
		problems+="the restored process (uid $(awk '/^Uid:/ {print $2}' "/proc/$target_pid/status")) has its cwd in $secret_dir; "
	kill_and_reap "$target_pid"
	verdict paths "$item" "$problems" "restarted, but not inside the root-only directory"
}

# The credentials restart opens files with must not refuse what the user may open.
root_restarts_unchanged_user_image() {
	local problems= answer fd link open_on_data=0 item="root restarts a user's image whose files did not change"
	start_user_target --mib 1 --threads 1 --file "$stage/user/kept" || fail "$target_error"
	image_of_target "$case_dir/user-kept.img"
	restart_image "$case_dir/user-kept.img" "$CKPT"
	if [ "$restart_status" -ne 0 ]; then
		problem paths "$item" "restart fails: $restart_message"
		return
	fi
	grep -q "^Uid:[[:space:]]*${user_uid}[[:space:]]" "/proc/$target_pid/status" || problems+="not uid $user_uid after restart; "
	for fd in /proc/"$target_pid"/fd/*; do
		link=$(readlink "$fd")
		[ "$link" = "$stage/user/kept" ] && open_on_data=$((open_on_data + 1))
	done
	[ "$open_on_data" -eq 2 ] || problems+="$open_on_data fds open on $stage/user/kept, not 2; "
	answer=$(ask "$target_pid" "$restored_in" "$restored_out" go) || problems+="the process's check says: $answer; "
	wait_gone "$target_pid" 10 || kill_and_reap "$target_pid"
	verdict paths "$item" "$problems" "works: uid $user_uid, both fds on the user's file, check passes"
}

make_root_only_dir
deleted_file
file_became_fifo
symlink_to_root_file
cwd_became_symlink_to_root_dir
root_restarts_unchanged_user_image
finish_case "restart paths: deleted file, file now a FIFO, file or cwd now a symlink to root-only, unchanged user image" reliability_restart_paths
