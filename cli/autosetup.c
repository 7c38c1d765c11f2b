/*
 * autosetup.c - maprcli stream replica autosetup: create the replica
 * stream and declare the replication (both ways with -multimaster), undo
 * on failure, and with -wait follow the initial copy until the replica is
 * up to date (a progress bar on stderr when it is a terminal).
 *
 * Steps, each undone in reverse order if a later one fails:
 *   1. mkdir DST                               (DST must not exist before)
 *   2. SRC into DST/.upstreams                 (DST accepts SRC)
 *   3. DST into SRC/.replicas [settings]       (SRC sends to DST; the daemon
 *                                               copies what SRC holds first)
 *   4. -multimaster: DST into SRC/.upstreams
 *   5. -multimaster: SRC into DST/.replicas [settings]
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "streamio.h"
#include "fs/util/clock.h"

#define WAIT_STEP_NS (100 * 1000 * 1000)	/* poll .info every 100 ms */
#define DEFAULT_TIMEOUT 600.0			/* seconds */

/* What the undo needs to know about SRC before autosetup touched it. */
struct before {
	bool had_replica;	/* DST was already listed in SRC/.replicas */
	char replica_line[256];	/* its settings then, to put back */
	bool had_upstream;	/* DST was already listed in SRC/.upstreams */
};

static double now_s(void)
{
	return (double)mono_ns() / 1e9;
}

/* Append LINE to FILE of S; failures are written to ERR. */
static int add_line(const struct stream_ref *s, const char *file, const char *line,
		    char *err, size_t errlen)
{
	return sio_append(s, file, line, err, errlen);
}

/*
 * Undo steps DONE..1 (DONE = the last step that succeeded). Appends what
 * could not be undone to UNDO_ERR ("" when all went back).
 */
static void undo(int done, const struct stream_ref *src, const struct stream_ref *dst,
		 const struct before *b, char *undo_err, size_t errlen)
{
	char line[1024], err[1024];
	size_t len = 0;
	undo_err[0] = '\0';
#define UNDO_FAILED(what)                                                          \
	do {                                                                        \
		if (len < errlen)                                                   \
			len += (size_t)snprintf(undo_err + len, errlen - len, "%s%s: %s", \
						len ? "; " : "", what, err);        \
	} while (0)
	/* Step 5 lives in DST's settings, which go with DST at step 1. */
	if (done >= 4 && !b->had_upstream) {
		snprintf(line, sizeof(line), "-%s\n", dst->global);
		if (add_line(src, ".upstreams", line, err, sizeof(err)) < 0)
			UNDO_FAILED("removing it from the source's .upstreams");
	}
	if (done >= 3) {
		if (b->had_replica)
			snprintf(line, sizeof(line), "%s%s\n", dst->global, b->replica_line);
		else
			snprintf(line, sizeof(line), "-%s\n", dst->global);
		if (add_line(src, ".replicas", line, err, sizeof(err)) < 0)
			UNDO_FAILED("restoring the source's .replicas");
	}
	/* Step 2 lives in DST's settings too. */
	if (done >= 1 && sio_remove_stream(dst, err, sizeof(err)) < 0)
		UNDO_FAILED("removing the new stream");
#undef UNDO_FAILED
}

/* Draw the progress bar of the initial copy on stderr (a terminal). */
static void progress(const struct stream_ref *dst, long long copied, long long total,
		     const char *state)
{
	const int width = 30;
	int fill = total > 0 ? (int)(copied * width / total) : width;
	int pct = total > 0 ? (int)(copied * 100 / total) : 100;
	char bar[64];
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '.', (size_t)(width - fill));
	bar[width] = '\0';
	fprintf(stderr, "\r%s [%s] %lld/%lld messages %3d%% %s\033[K", dst->global, bar,
		copied, total, pct, state);
	fflush(stderr);
}

/* Set by SIGINT/SIGTERM during -wait: stop waiting, say what stays. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

/*
 * Poll SRC/.info until replica DST is up to date with nothing pending, or
 * TIMEOUT seconds pass. Gives up at once if DST's stream disappears (the
 * copy can then never finish). Returns 0 or an exit status.
 */
static int wait_uptodate(struct cli *c, const struct stream_ref *src,
			 const struct stream_ref *dst, double timeout)
{
	bool tty = isatty(2);
	double deadline = now_s() + timeout;
	char err[1024];
	struct sigaction sa = { .sa_handler = on_interrupt };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (;;) {
		struct stat dst_st;
		if (interrupted) {
			if (tty)
				fputc('\n', stderr);
			return report_fail(c->out, EXIT_FAIL, EINTR,
					   "interrupted: %s stays a replica of %s and the copy goes on (see 'maprcli stream replica list -path %s')",
					   dst->global, src->global, src->global);
		}
		if (stat(dst->dir, &dst_st) < 0) {
			if (tty)
				fputc('\n', stderr);
			return report_fail(c->out, EXIT_FAIL, ENOENT,
					   "waiting for the copy: the replica stream %s no longer exists",
					   dst->global);
		}
		json_t *info = NULL;
		int rc = sio_info(src, &info, err, sizeof(err));
		if (rc < 0) {
			if (tty)
				fputc('\n', stderr);
			return report_fail(c->out, EXIT_FAIL, -rc, "waiting for the copy: %s", err);
		}
		json_t *r = sio_entry(info, "replicas", dst), *t;
		if (!r) {
			json_decref(info);
			if (tty)
				fputc('\n', stderr);
			return report_fail(c->out, EXIT_FAIL, ENOENT,
					   "waiting for the copy: %s is no longer a replica of %s",
					   dst->global, src->global);
		}
		long long total = 0, pending = sio_int(r, "putsPending");
		size_t i;
		json_array_foreach(json_object_get(info, "topics"), i, t)
			total += sio_int(t, "messages");
		long long copied = total > pending ? total - pending : 0;
		bool done = json_is_true(json_object_get(r, "isUptodate")) && pending == 0;
		char state[64], lasterr[512];
		const char *st = sio_str(r, "replicaState");
		snprintf(state, sizeof(state), "%s",
			 strncmp(st, "REPLICA_STATE_", 14) ? st : st + 14);
		snprintf(lasterr, sizeof(lasterr), "%s", sio_str(r, "lastError"));
		json_decref(info);
		if (tty)
			progress(dst, copied, total, state);
		if (done) {
			if (tty)
				fputc('\n', stderr);
			return 0;
		}
		if (now_s() >= deadline) {
			if (tty)
				fputc('\n', stderr);
			return report_fail(c->out, EXIT_FAIL, ETIMEDOUT,
					   "timed out after %g s waiting for %s to be up to date: %lld of %lld messages copied, %lld pending, state %s%s%s",
					   timeout, dst->global, copied, total, pending, state,
					   *lasterr ? ", last error: " : "", lasterr);
		}
		nanosleep(&(struct timespec){ .tv_nsec = WAIT_STEP_NS }, NULL);
	}
}

/* -timeout SECONDS (only with -wait) into *OUT. Returns 0 or an exit status. */
static int get_timeout(struct cli *c, bool wait, double *out)
{
	const char *v = args_get(c->args, "timeout");
	*out = DEFAULT_TIMEOUT;
	if (!v)
		return 0;
	if (!wait)
		return cli_usage(c, "option -timeout needs -wait");
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (errno || end == v || *end || !isfinite(d) || d <= 0)
		return cli_usage(c, "option -timeout: '%s' is not a number of seconds above 0", v);
	*out = d;
	return 0;
}

int cmd_replica_autosetup(struct cli *c)
{
	struct stream_ref src, dst;
	struct before b = { 0 };
	json_t *info = NULL, *r;
	char settings[256], line[1024], err[1024], undo_err[2048];
	bool multimaster = args_bool(c->args, "multimaster", false);
	bool wait = args_bool(c->args, "wait", false);
	double timeout;
	int rc;

	if ((rc = replica_settings(c, settings, sizeof(settings))) ||
	    (rc = get_timeout(c, wait, &timeout)) ||
	    (rc = cli_stream(c, "-path", true, &src)) ||
	    (rc = cli_stream(c, "-replica", false, &dst)) ||
	    (rc = cli_same_mount(c, &src, &dst)))
		return rc;
	if (!strcmp(src.global, dst.global))
		return report_fail(c->out, EXIT_FAIL, EINVAL,
				   "%s cannot be a replica of itself", src.global);
	struct stat st;
	if (stat(dst.dir, &st) == 0)
		return report_fail(c->out, EXIT_FAIL, EEXIST,
				   "replica stream %s already exists; autosetup creates the replica stream itself (to replicate into an existing stream use 'stream upstream add' and 'stream replica add')",
				   dst.global);
	if (errno != ENOENT) {
		int e = errno;
		return report_fail(c->out, EXIT_FAIL, e, "cannot access %s: %s", dst.dir,
				   strerror(e));
	}
	if ((rc = cli_info(c, &src, &info)))
		return rc;
	if ((r = sio_entry(info, "replicas", &dst))) {
		b.had_replica = true;
		snprintf(b.replica_line, sizeof(b.replica_line),
			 " synchronous=%s paused=%s networkcompression=%s",
			 json_is_true(json_object_get(r, "synchronous")) ? "true" : "false",
			 json_is_true(json_object_get(r, "paused")) ? "true" : "false",
			 sio_str(r, "networkcompression")[0] ? sio_str(r, "networkcompression") : "off");
	}
	b.had_upstream = sio_entry(info, "upstreams", &dst) != NULL;
	json_decref(info);

	/* 1. the replica stream */
	int done = 0;
	const char *step = "creating the replica stream";
	if (mkdir(dst.dir, 0777) < 0) {
		int e = errno;
		if (e == ENOENT && mount_check_stream(&dst, err, sizeof(err)) == -ENOENT)
			return report_fail(c->out, EXIT_FAIL, e, "cannot create %s: %s",
					   dst.global, err);
		if (e == EEXIST)
			return report_fail(c->out, EXIT_FAIL, e,
					   "replica stream %s already exists", dst.global);
		return report_fail(c->out, EXIT_FAIL, e, "cannot create %s: %s", dst.global,
				   strerror(e));
	}
	done = 1;
	/* 2. DST accepts SRC */
	step = "adding the source to the replica's .upstreams";
	snprintf(line, sizeof(line), "%s\n", src.global);
	if ((rc = add_line(&dst, ".upstreams", line, err, sizeof(err))) < 0)
		goto fail;
	done = 2;
	/* 3. SRC sends to DST */
	step = "adding the replica to the source's .replicas";
	snprintf(line, sizeof(line), "%s%s\n", dst.global, settings);
	if ((rc = add_line(&src, ".replicas", line, err, sizeof(err))) < 0)
		goto fail;
	done = 3;
	if (multimaster) {
		/* 4. SRC accepts DST */
		step = "adding the replica to the source's .upstreams";
		snprintf(line, sizeof(line), "%s\n", dst.global);
		if (!b.had_upstream &&
		    (rc = add_line(&src, ".upstreams", line, err, sizeof(err))) < 0)
			goto fail;
		done = 4;
		/* 5. DST sends to SRC */
		step = "adding the source to the replica's .replicas";
		snprintf(line, sizeof(line), "%s%s\n", src.global, settings);
		if ((rc = add_line(&dst, ".replicas", line, err, sizeof(err))) < 0)
			goto fail;
		done = 5;
	}
	if (wait)
		return wait_uptodate(c, &src, &dst, timeout);
	return 0;

fail:
	undo(done, &src, &dst, &b, undo_err, sizeof(undo_err));
	if (undo_err[0])
		return report_fail(c->out, EXIT_FAIL, -rc,
				   "autosetup of %s to %s failed %s: %s; undoing the earlier steps failed too: %s",
				   src.global, dst.global, step, err, undo_err);
	return report_fail(c->out, EXIT_FAIL, -rc,
			   "autosetup of %s to %s failed %s: %s; the earlier steps were undone",
			   src.global, dst.global, step, err);
}
