# Capabilities: what ckpt needs, and that a restart gives a process no
# capability it did not have.
#
#  - as ckpt-test-user without capabilities, then with CAP_CHECKPOINT_RESTORE
#    (ambient), checkpoint the user's own process: either it works (image
#    0600, owned by the user, passes inspect) or it fails with one line that
#    names the capability it needs; either way the target runs on intact;
#  - as the user with CAP_CHECKPOINT_RESTORE, restart the user's own image:
#    the process comes back with its uid and with the capability sets it
#    had (none), not the restarter's;
#  - a root process whose capabilities were all dropped (bounding set
#    included), checkpointed and restarted by root, comes back without any;
#  - a user's process holding one capability (ambient, so also inheritable,
#    permitted and effective), restarted by root, comes back with exactly
#    that one, not root's;
#  - a root process with a smaller bounding set comes back with that set.
# Results: $BUILD/reliability/reliability_capabilities.tsv.
source "$(dirname "$0")/../reliability/common.bash"
need_target
start_results reliability_capabilities
setup_test_user

CAPABILITY_WORDS='CAP_[A-Z_]+|capabilit'

verdict() {
	if [ -n "$3" ]; then
		problem "$1" "$2" "${3%; }"
	else
		record "$1" "$2" pass "$4"
	fi
}

# user_checkpoint LABEL WRAPPER...: the user's checkpoint of the user's own
# process, judged; leaves the image in $stage/user/LABEL.img when it works.
user_checkpoint() {
	local label=$1 problems= status answer out
	shift
	out=$stage/user/$label.img
	start_user_target --mib 2 --threads 1 --file "$stage/user/$label.data" || fail "$target_error"
	timeout -k 5 30 "$@" "$USER_CKPT" checkpoint -o "$out" "$target_pid" >/dev/null 2>"$case_dir/stderr"
	status=$?
	if [ "$status" -eq 0 ]; then
		[ "$(stat -c '%a %U' "$out")" = "600 $TEST_USER" ] ||
			problems+="the image is $(stat -c '%a %U' "$out"), not 600 $TEST_USER; "
		"$CKPT" inspect "$out" >/dev/null 2>&1 || problems+="the image fails inspect; "
		outcome="works (image 0600, owned by $TEST_USER)"
	else
		[ "$status" -eq 1 ] || problems+="exit status $status; "
		[ "$(grep -c . "$case_dir/stderr")" -eq 1 ] || problems+="not one line on stderr; "
		grep -qE "$CAPABILITY_WORDS" "$case_dir/stderr" ||
			problems+="fails without naming a capability: $(head -1 "$case_dir/stderr"); "
		outcome="refused: $(head -1 "$case_dir/stderr")"
	fi
	[ -z "$(freedom_problems "$target_pid")" ] || problems+="$(freedom_problems "$target_pid"); "
	answer=$(ask "$target_pid" "$target_in" "$target_out" check) || problems+="the target's check says: $answer; "
	kill_and_reap "$target_pid"
	close_pipes "$target_in" "$target_out"
	verdict capabilities "user checkpoints own process ($label)" "$problems" "$outcome"
	[ "$status" -eq 0 ]
}

# The user, with CAP_CHECKPOINT_RESTORE, restarts the user's own image.
user_restart_keeps_capabilities() {
	local problems= pid before after answer image=$stage/user/cr-kill.img
	start_user_target --mib 2 --threads 1 --file "$stage/user/cr-kill.data" || fail "$target_error"
	pid=$target_pid
	before=$(capabilities_of "$pid")
	if ! "${AS_USER_CR[@]}" "$USER_CKPT" checkpoint --kill -o "$image" "$pid" 2>"$case_dir/stderr"; then
		"$CKPT" checkpoint --kill -o "$image" "$pid" 2>"$case_dir/stderr" ||
			fail "checkpoint of the user's process: $(head -1 "$case_dir/stderr")"
		chown "$TEST_USER:" "$image"
	fi
	wait_gone "$pid" 10 || fail "the user's process stays after --kill"
	close_pipes "$target_in" "$target_out"
	restart_image "$image" "${AS_USER_CR[@]}" "$USER_CKPT"
	if [ "$restart_status" -ne 0 ]; then
		problem capabilities "user with CAP_CHECKPOINT_RESTORE restarts own image" "restart fails: $restart_message"
		return
	fi
	after=$(capabilities_of "$pid")
	[ "$after" = "$before" ] || problems+="capabilities were '$before', are '$after' after restart; "
	grep -q "^Uid:[[:space:]]*${user_uid}[[:space:]]" "/proc/$pid/status" || problems+="not uid $user_uid after restart; "
	answer=$(ask "$pid" "$restored_in" "$restored_out" go) || problems+="the process's check says: $answer; "
	wait_gone "$pid" 10 || kill_and_reap "$pid"
	verdict capabilities "user with CAP_CHECKPOINT_RESTORE restarts own image" "$problems" \
		"works; uid $user_uid and capabilities as before: $before"
}

# A root process without capabilities stays without them.
dropped_capabilities_stay_dropped() {
	local problems= pid before after answer
	TARGET_WRAPPER=(setpriv --bounding-set=-all --inh-caps=-all)
	start_target --mib 1 --threads 1 || fail "$target_error"
	TARGET_WRAPPER=()
	pid=$target_pid
	before=$(capabilities_of "$pid")
	"$CKPT" checkpoint --kill -o "$case_dir/dropped.img" "$pid" 2>"$case_dir/stderr" ||
		fail "checkpoint: $(head -1 "$case_dir/stderr")"
	wait_gone "$pid" 10 || fail "the target stays after --kill"
	close_pipes "$target_in" "$target_out"
	restart_image "$case_dir/dropped.img" "$CKPT"
	[ "$restart_status" -eq 0 ] || fail "restart: $restart_message"
	after=$(capabilities_of "$pid")
	[ "$after" = "$before" ] || problems+="capabilities were '$before', are '$after' after restart; "
	answer=$(ask "$pid" "$restored_in" "$restored_out" go) || problems+="the process's check says: $answer; "
	wait_gone "$pid" 10 || kill_and_reap "$pid"
	verdict capabilities "root process without capabilities, restarted by root" "$problems" \
		"comes back without any: $after"
}

# root_restart_keeps_capabilities ITEM: checkpoint --kill of the running
# target, root restarts it, and its capability sets must be as before.
root_restart_keeps_capabilities() {
	local item=$1 problems= pid=$target_pid before after answer uid task
	before=$(capabilities_of "$pid")
	uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
	"$CKPT" checkpoint --kill -o "$case_dir/kept.$target_serial.img" "$pid" 2>"$case_dir/stderr" ||
		fail "checkpoint: $(head -1 "$case_dir/stderr")"
	wait_gone "$pid" 10 || fail "the target stays after --kill"
	close_pipes "$target_in" "$target_out"
	restart_image "$case_dir/kept.$target_serial.img" "$CKPT"
	if [ "$restart_status" -ne 0 ]; then
		problem capabilities "$item" "restart fails: $restart_message"
		return
	fi
	after=$(capabilities_of "$pid")
	[ "$after" = "$before" ] || problems+="capabilities were '$before', are '$after' after restart; "
	for task in /proc/"$pid"/task/*; do
		[ "$(capabilities_of "$pid/task/${task##*/}")" = "$before" ] ||
			problems+="thread ${task##*/} has '$(capabilities_of "$pid/task/${task##*/}")'; "
	done
	grep -q "^Uid:[[:space:]]*${uid}[[:space:]]" "/proc/$pid/status" || problems+="not uid $uid after restart; "
	answer=$(ask "$pid" "$restored_in" "$restored_out" go) || problems+="the process's check says: $answer; "
	wait_gone "$pid" 10 || kill_and_reap "$pid"
	verdict capabilities "$item" "$problems" "comes back with the same sets: $after"
}

# A user's process with CAP_NET_BIND_SERVICE (ambient): exactly that after root's restart.
user_capability_kept() {
	USER_TARGET_CAPS="--inh-caps=+net_bind_service --ambient-caps=+net_bind_service" \
		start_user_target --mib 1 --threads 2 || fail "$target_error"
	root_restart_keeps_capabilities "user's process with one ambient capability, restarted by root"
}

# A root process without CAP_SYS_ADMIN and CAP_NET_RAW in its bounding set.
smaller_bounding_set_kept() {
	TARGET_WRAPPER=(setpriv --bounding-set=-sys_admin,-net_raw)
	start_target --mib 1 --threads 2 || fail "$target_error"
	TARGET_WRAPPER=()
	root_restart_keeps_capabilities "root process with a smaller bounding set, restarted by root"
}

user_checkpoint "no capabilities" "${AS_USER[@]}"
user_checkpoint "CAP_CHECKPOINT_RESTORE" "${AS_USER_CR[@]}"
user_restart_keeps_capabilities
dropped_capabilities_stay_dropped
user_capability_kept
smaller_bounding_set_kept
finish_case "capabilities: checkpoint as a user, restart keeps the process's own capabilities" reliability_capabilities
