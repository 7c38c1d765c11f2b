/*
 * fault.c - the test-only fault points of fault.h. Empty unless built
 * with SFS_FAULT_HOOKS.
 */
#include "fault.h"

#ifdef SFS_FAULT_HOOKS
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logging.h"

static atomic_long hits;

void fault_point(const char *name)
{
	const char *spec = getenv("STREAMFS_FAULT");
	if (!spec)
		return;
	size_t n = strlen(name);
	if (strncmp(spec, name, n) != 0 || (spec[n] != 0 && spec[n] != ':'))
		return;
	long want = spec[n] == ':' ? atol(spec + n + 1) : 1;
	if (atomic_fetch_add(&hits, 1) + 1 == want) {
		log_info("fault point %s reached (hit %ld): killing the daemon", name, want);
		kill(getpid(), SIGKILL);
	}
}

void fault_stall(const char *name)
{
	const char *spec = getenv("STREAMFS_FAULT_STALL");
	if (!spec || strcmp(spec, name) != 0)
		return;
	log_info("fault stall %s reached: this thread waits for good", name);
	for (;;)
		sleep(3600);
}

bool fault_lie(const char *name)
{
	/* NAME[:N], or several, comma-separated: each its own count. */
	static atomic_long each[8];
	const char *spec = getenv("STREAMFS_FAULT_LIE");
	size_t n = strlen(name);
	for (int i = 0; spec && *spec && i < 8; i++) {
		const char *end = strchr(spec, ',');
		if (!end)
			end = spec + strlen(spec);
		if (!strncmp(spec, name, n) && (spec + n == end || spec[n] == ':')) {
			long times = spec[n] == ':' ? atol(spec + n + 1) : 1;
			long k = atomic_fetch_add(&each[i], 1) + 1;
			if (k > times)
				return false;
			log_info("fault lie %s reached (%ld of %ld): a false answer", name, k, times);
			return true;
		}
		spec = *end ? end + 1 : end;
	}
	return false;
}
#else
/* ISO C forbids an empty translation unit. */
typedef int fault_hooks_compiled_out;
#endif
