# A shell waiting for a foreground command (tests/README.md, "real").
#
# Usage: bash sleep_loop.sh STEPS READY SECONDS
#
# For each step 1..STEPS prints "step N", then runs the external `sleep
# SECONDS` in the foreground, so bash waits for it in wait4().  After
# "step READY" it also prints "ready": the harness checkpoints bash and its
# sleep during that sleep.  At the end it prints "done".
steps=$1
ready=$2
seconds=$3

for ((step = 1; step <= steps; step++)); do
	echo "step $step"
	if ((step == ready)); then
		echo ready
	fi
	sleep "$seconds" || exit 1
done
echo done
