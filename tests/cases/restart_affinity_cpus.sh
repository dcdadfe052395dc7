# A thread's CPU affinity on a machine that lacks some of its CPUs (the
# image is edited to say so, its checksums made again): with CPU 0 and CPU
# 1023 the restart keeps the CPU that exists (the process runs on CPU 0
# only); with CPU 1023 alone `ckpt restart` exits 1 with one line naming
# the thread and the CPU, and leaves no process behind.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
program=$case_dir/affinity_holder
cat >"$case_dir/affinity_holder.c" <<'EOF'
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	char line[16];
	cpu_set_t cpus;

	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus) != 0) {
		printf("fail: setup: %m\n");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "go\n") != 0)
		return 1;
	sched_getaffinity(0, sizeof(cpus), &cpus);
	printf("cpus");
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, &cpus))
			printf(" %d", cpu);
	}
	printf("\n");
	return 0;
}
EOF
cc -O1 -o "$program" "$case_dir/affinity_holder.c" || fail "cannot build the affinity program"

# $1 image, $2 output, $3 the affinity words as "index:value,...": the
# first THREAD record's mask (payload offset 408, 16 words) is replaced and
# its checksum (CRC32C of the header's first 16 bytes and the payload) made again.
edit_affinity() {
	python3 - "$1" "$2" "$3" <<'PYTHON'
import struct, sys

def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF

data = bytearray(open(sys.argv[1], "rb").read())
words = [0] * 16
for item in sys.argv[3].split(","):
    index, value = item.split(":")
    words[int(index)] = int(value, 0)
at = 0
while at < len(data):
    rtype, flags, length = struct.unpack_from("<IIQ", data, at)
    if rtype == 9:
        struct.pack_into("<16Q", data, at + 24 + 408, *words)
        payload = bytes(data[at + 24:at + 24 + length])
        struct.pack_into("<I", data, at + 16, crc32c(payload, crc32c(bytes(data[at:at + 16]))))
        break
    at += 24 + length
else:
    sys.exit("no THREAD record")
open(sys.argv[2], "wb").write(data)
PYTHON
}

coproc HOLDER { close_extra_fds; exec "$program"; }
pid=$HOLDER_PID
exec {out}<&"${HOLDER[0]}" {in}>&"${HOLDER[1]}"
read_line "$out" line 10 "ready from the affinity program"
[ "$line" = ready ] || fail "the affinity program said: $line"
"$CKPT" checkpoint --kill -o "$case_dir/image" "$pid" 2>"$case_dir/stderr" ||
	fail "checkpoint: $(head -1 "$case_dir/stderr")"
wait "$pid"
exec {in}>&- {out}<&-

edit_affinity "$case_dir/image" "$case_dir/missing" "15:0x8000000000000000" || fail "cannot edit the image"
status=$(status_of "$CKPT" restart --detach "$case_dir/missing")
[ "$status" -eq 1 ] || fail "restart with only a missing CPU exited $status, expected 1"
expect_one_line "$case_dir/stderr" "only a missing CPU"
grep -q "thread $pid ran only on CPUs that this machine lacks (CPU 1023)" "$case_dir/stderr" ||
	fail "unexpected message: $(head -1 "$case_dir/stderr")"
! is_running "$pid" || fail "a process $pid was left behind"

edit_affinity "$case_dir/image" "$case_dir/partial" "0:1,15:0x8000000000000000" || fail "cannot edit the image"
restart_detached "$CKPT" "$case_dir/partial"
[ "$restored_pid" = "$pid" ] || fail "restored as $restored_pid, not $pid"
echo go >&"$restored_in"
read_line "$restored_out" line 10 "the CPUs of the restored process"
[ "$line" = "cpus 0" ] || fail "with CPUs 0 and 1023: $line, expected cpus 0"
echo "a missing CPU is dropped from the affinity; none left fails the restart by name"
exit 0
