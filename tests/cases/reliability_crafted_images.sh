# Crafted images restarted by root: an image is data its owner can edit,
# and must not be a key to files the owner could not open.  A user's
# process (rel_target, as ckpt-test-user, holding a file of its own) is
# checkpointed, then:
#  - its FILE record is edited (tests/tools/edit_image_file.py) to name
#    /etc/shadow with its real device, inode, mode, size and mtime, the
#    checksums recomputed: root's restart refuses with one line naming the
#    file and the user, and creates nothing; with --trust-image it
#    restores it (root said it trusts the image);
#  - the user plants a symlink (to another file of the user's) where the
#    file was: refused with one line (saved paths hold no symlinks);
#  - the unchanged image restarted by root: the process is dumpable as it
#    was (its owner can read /proc/PID/environ) and passes its own check;
#  - the file replaced by a copy of itself (another inode) on the boot of
#    the checkpoint: refused.
# Results: $BUILD/reliability/reliability_crafted_images.tsv.
source "$(dirname "$0")/../reliability/common.bash"
need_target
start_results reliability_crafted_images
setup_test_user

verdict() {
	if [ -n "$3" ]; then
		problem "$1" "$2" "${3%; }"
	else
		record "$1" "$2" pass "$4"
	fi
}

# What is wrong after restart_image had to fail: status, lines, a process left.
refusal_problems() {
	[ "$restart_status" -eq 1 ] || echo -n "exit status $restart_status, expected 1; "
	[ "$(grep -c . "$restart_stderr")" -eq 1 ] || echo -n "not one line on stderr: $(head -c 200 "$restart_stderr"); "
	grep -q -- "$1" "$restart_stderr" || echo -n "the message does not say '$1': $restart_message; "
	if [ -e "/proc/$target_pid" ]; then
		echo -n "pid $target_pid exists ($(process_state "$target_pid")); "
		kill_and_reap "$target_pid"
	fi
}

# Whether the restored process holds an fd on $1.
holds_fd_on() {
	local fd
	for fd in /proc/"$target_pid"/fd/*; do
		[ "$(readlink "$fd")" = "$1" ] && return 0
	done
	return 1
}

data=$stage/user/data
start_user_target --mib 1 --threads 1 --file "$data" || fail "$target_error"
"$CKPT" checkpoint --kill -o "$case_dir/user.img" "$target_pid" 2>"$case_dir/stderr" ||
	fail "checkpoint: $(head -1 "$case_dir/stderr")"
wait_gone "$target_pid" 10 || fail "the target stays after --kill"
close_pipes "$target_in" "$target_out"
python3 tests/tools/edit_image_file.py "$case_dir/user.img" "$case_dir/shadow.img" \
	--path "$data" --new-path /etc/shadow || fail "cannot edit the image"
# The user edited it: the file is theirs (root's own images are trusted).
chown "$user_uid" "$case_dir/shadow.img" || fail "cannot give the edited image to uid $user_uid"
"$CKPT" inspect "$case_dir/shadow.img" >/dev/null 2>"$case_dir/stderr" ||
	fail "the edited image is not well formed: $(head -1 "$case_dir/stderr")"

item="a user's image edited to name /etc/shadow with its real device and inode (root restarts)"
restart_image "$case_dir/shadow.img" "$CKPT"
if [ "$restart_status" -eq 0 ]; then
	problems=
	holds_fd_on /etc/shadow && problems="the restored process (uid $user_uid) holds an fd on /etc/shadow; "
	kill_and_reap "$target_pid"
	verdict crafted "$item" "${problems:-restarted; }"
else
	verdict crafted "$item" "$(refusal_problems /etc/shadow)" "refused: $restart_message"
fi

item="the same image with --trust-image (root trusts it)"
printf '#!/bin/sh\ncommand=$1\nshift\nexec "%s" "$command" --trust-image "$@"\n' "$CKPT" >"$case_dir/ckpt-trusting"
chmod +x "$case_dir/ckpt-trusting"
restart_image "$case_dir/shadow.img" "$case_dir/ckpt-trusting"
if [ "$restart_status" -ne 0 ]; then
	problem crafted "$item" "refused: $restart_message"
else
	holds_fd_on /etc/shadow && problems= || problems="no fd on /etc/shadow; "
	kill_and_reap "$target_pid"
	verdict crafted "$item" "$problems" "restored, with the fd on /etc/shadow"
fi

item="a symlink planted where a file of the image was (root restarts)"
"${AS_USER[@]}" sh -c 'echo other >"$1.other" && mv "$1" "$1.saved" && ln -s "$1.other" "$1"' sh "$data" ||
	fail "the user cannot plant a symlink"
restart_image "$case_dir/user.img" "$CKPT"
if [ "$restart_status" -eq 0 ]; then
	holds_fd_on "$data.other" && problems="the restored process holds an fd on the symlink's target; " || problems="restarted; "
	kill_and_reap "$target_pid"
	verdict crafted "$item" "$problems"
else
	verdict crafted "$item" "$(refusal_problems symlink)" "refused: $restart_message"
fi
rm -f "$data" && mv "$data.saved" "$data" || fail "cannot put $data back"

item="root restarts a user's unchanged image: dumpable, check passes"
restart_image "$case_dir/user.img" "$CKPT"
if [ "$restart_status" -ne 0 ]; then
	problem crafted "$item" "refused: $restart_message"
else
	problems=
	"${AS_USER[@]}" head -c 1 "/proc/$target_pid/environ" >/dev/null 2>"$case_dir/environ-stderr" ||
		problems+="its owner cannot read /proc/$target_pid/environ (not dumpable): $(head -1 "$case_dir/environ-stderr"); "
	owner=$(stat -c %u "/proc/$target_pid/environ")
	[ "$owner" = "$user_uid" ] || problems+="/proc/$target_pid belongs to uid $owner, not $user_uid (not dumpable); "
	answer=$(ask "$target_pid" "$restored_in" "$restored_out" go) || problems+="its check says: $answer; "
	wait_gone "$target_pid" 10 || kill_and_reap "$target_pid"
	verdict crafted "$item" "$problems" "dumpable (its owner reads /proc/PID/environ), check passes"
fi

item="the file replaced by a copy (same path and bytes, another inode; same boot)"
"${AS_USER[@]}" sh -c 'cp -p "$1" "$1.copy" && mv "$1.copy" "$1"' sh "$data" || fail "the user cannot replace $data"
restart_image "$case_dir/user.img" "$CKPT"
if [ "$restart_status" -eq 0 ]; then
	kill_and_reap "$target_pid"
	problem crafted "$item" "restarted on another inode than the checkpoint's"
else
	verdict crafted "$item" "$(refusal_problems "no longer the file")" "refused: $restart_message"
fi

finish_case "crafted images: /etc/shadow refused (and restored with --trust-image), planted symlink refused, dumpable kept" \
	reliability_crafted_images
