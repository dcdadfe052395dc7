# tmux with a counter running in a pane: its server holds the pane's pty
# master (saved now) but also its own pipes and its listening unix socket,
# which ckpt does not save yet.  The checkpoint of the server must refuse
# with one line naming one of those (never the terminal), exit 1, write no
# image, and leave tmux unharmed: capture-pane shows the counter going on
# and send-keys still reaches the pane.  When pipes and listening sockets
# are saved, this becomes the tmux restart test of issue 10.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
command -v tmux >/dev/null || skip "tmux is not installed"
socket=$case_dir/tmux.sock
export TERM=xterm
cleanup() { tmux -S "$socket" kill-server 2>/dev/null; }
trap cleanup EXIT

# The last "count-N" in the pane, or 0.
last_count() {
	local line count=0
	while IFS= read -r line; do
		[[ $line =~ ^count-([0-9]+)$ ]] && count=${BASH_REMATCH[1]}
	done < <(tmux -S "$socket" capture-pane -p 2>/dev/null)
	echo "$count"
}

# Waits (up to 20 s) until the pane shows a count above $1.
wait_count_above() {
	local deadline=$((SECONDS + 20))
	while (($(last_count) <= $1)); do
		((SECONDS < deadline)) || fail "the pane's counter stayed at $(last_count)"
		sleep 0.1
	done
}

(close_extra_fds; exec tmux -S "$socket" -f /dev/null new-session -d -x 80 -y 24 \
	'i=0; while :; do i=$((i+1)); echo count-$i; read -t 0.2 line && echo "got-$line"; done') ||
	fail "tmux did not start"
wait_count_above 2
server=$(tmux -S "$socket" display -p '#{pid}') || fail "no tmux server pid"
status=$(status_of "$CKPT" checkpoint -o "$case_dir/image" "$server")
[ "$status" -eq 1 ] || fail "checkpoint of the tmux server exited $status, expected 1"
expect_one_line "$case_dir/stderr" "tmux"
grep -Eq "is a pipe|a listening unix socket" "$case_dir/stderr" ||
	fail "unexpected refusal: $(head -1 "$case_dir/stderr")"
[ ! -e "$case_dir/image" ] || fail "an image was written"
before=$(last_count)
wait_count_above "$before"
tmux -S "$socket" send-keys 'hello' Enter || fail "send-keys failed"
deadline=$((SECONDS + 20))
until tmux -S "$socket" capture-pane -p | grep -q '^got-hello$'; do
	((SECONDS < deadline)) || fail "send-keys did not reach the pane"
	sleep 0.1
done
exit 0
