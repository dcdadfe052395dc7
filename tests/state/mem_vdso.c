/*
 * The vDSO: after restart [vdso], [vvar] (and [vvar_vclock] where the
 * kernel has it) are at the same addresses as before, AT_SYSINFO_EHDR still
 * points at [vdso], and clock_gettime(), gettimeofday() and time() work and
 * never go backwards.
 */
#include "state.h"

#include <sys/auxv.h>
#include <sys/time.h>

enum {
	LINE_MAX_BYTES = 256
};

static const char *const vdso_names[] = { "[vdso]", "[vvar]", "[vvar_vclock]" };

#define VDSO_NAME_COUNT (sizeof(vdso_names) / sizeof(vdso_names[0]))

static char lines_before[VDSO_NAME_COUNT][LINE_MAX_BYTES];
static bool present_before[VDSO_NAME_COUNT];
static int64_t realtime_before;
static int64_t monotonic_before;
static int64_t boottime_before;

static void record_vdso(void)
{
	for (size_t index = 0; index < VDSO_NAME_COUNT; index++)
		present_before[index] = state_maps_line_named(vdso_names[index],
							      lines_before[index], LINE_MAX_BYTES);
	if (!present_before[0] || !present_before[1])
		state_setup_fail("no [vdso] or [vvar] in /proc/self/maps");
	realtime_before = state_now_ns(CLOCK_REALTIME);
	monotonic_before = state_now_ns(CLOCK_MONOTONIC);
	boottime_before = state_now_ns(CLOCK_BOOTTIME);
}

static void check_vdso_lines(void)
{
	char line_after[LINE_MAX_BYTES];
	unsigned long vdso_start = 0;

	for (size_t index = 0; index < VDSO_NAME_COUNT; index++) {
		bool present = state_maps_line_named(vdso_names[index], line_after, LINE_MAX_BYTES);

		state_expect(present == present_before[index], "%s %s after restart",
			     vdso_names[index], present ? "appeared" : "disappeared");
		state_expect_equal_text(line_after, lines_before[index], vdso_names[index]);
	}
	sscanf(lines_before[0], "%lx", &vdso_start);
	state_expect(getauxval(AT_SYSINFO_EHDR) == vdso_start,
		     "AT_SYSINFO_EHDR is %#lx, [vdso] was at %#lx", getauxval(AT_SYSINFO_EHDR),
		     vdso_start);
}

static void check_clocks(void)
{
	struct timeval wall_clock;
	int64_t realtime_now = state_now_ns(CLOCK_REALTIME);
	int64_t monotonic_now = state_now_ns(CLOCK_MONOTONIC);
	int64_t gettimeofday_ns;

	state_expect(realtime_now >= realtime_before, "CLOCK_REALTIME went backwards");
	state_expect(monotonic_now >= monotonic_before, "CLOCK_MONOTONIC went backwards");
	state_expect(state_now_ns(CLOCK_BOOTTIME) >= boottime_before,
		     "CLOCK_BOOTTIME went backwards");
	state_expect(gettimeofday(&wall_clock, NULL) == 0, "gettimeofday: %s", strerror(errno));
	gettimeofday_ns = (int64_t)wall_clock.tv_sec * 1000000000LL + wall_clock.tv_usec * 1000LL;
	state_expect(gettimeofday_ns >= realtime_before &&
			     gettimeofday_ns - realtime_now < 2000000000LL,
		     "gettimeofday %lld disagrees with clock_gettime %lld",
		     (long long)gettimeofday_ns, (long long)realtime_now);
	state_expect(time(NULL) >= realtime_before / 1000000000LL, "time() went backwards");
}

int main(void)
{
	state_init();
	record_vdso();
	state_ready();
	state_wait_go_signal();
	check_vdso_lines();
	check_clocks();
	state_finish();
}
