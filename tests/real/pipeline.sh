# A shell pipeline checkpointed mid-stream (tests/README.md, "real").
#
# Usage: bash pipeline.sh LOG TOTAL READY
#
# `seq 1 TOTAL | while read ...; done > LOG`: seq fills the pipe and waits
# in write() while the loop copies numbers to LOG.  After READY numbers the
# loop prints "ready" on fd 4 (this script's stdout) and waits for one line
# on fd 5 (its stdin): the harness checkpoints the three processes there,
# with the pipe between them full, and restarts them with --inherit-fd
# 4=1 --inherit-fd 5=0.  At the end it prints "done".
log=$1
total=$2
ready=$3

exec 4>&1 5<&0
seq 1 "$total" | while read -r number; do
	echo "$number"
	if ((number == ready)); then
		echo ready >&4
		read -r _ <&5 || exit 1
	fi
done >"$log"
echo done
