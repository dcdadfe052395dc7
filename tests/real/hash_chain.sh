# A long computation for ckpt to checkpoint midway (tests/README.md, "real").
#
# Usage: bash hash_chain.sh FILE TOTAL READY
#
# Bash builtins only (no child processes: ckpt does not handle process trees
# yet), so the chain is arithmetic instead of sha256:
#   H = (H * 1103515245 + 12345 + STEP) % 2^31;  H ^= H >> 7;  H starts at 1.
# Appends TOTAL lines "STEP H" to FILE.  After step READY it prints "ready";
# from then on every step first reads one line from stdin, so the harness sets
# the pace.  At the end it prints "done".
path=$1
total=$2
ready=$3

exec 3>>"$path"
previous=1
for ((step = 1; step <= total; step++)); do
	if ((step > ready)); then
		if ! read -r line; then
			echo "stdin ended before step $step"
			exit 1
		fi
	fi
	((previous = (previous * 1103515245 + 12345 + step) % 2147483648))
	((previous ^= previous >> 7))
	printf '%d %d\n' "$step" "$previous" >&3
	if ((step == ready)); then
		echo ready
	fi
done
exec 3>&-
echo done
