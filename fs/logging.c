/*
 * logging.c - the daemon's log (see logging.h). Owns the log file descriptor.
 */
#define _GNU_SOURCE /* dup3 */
#include "logging.h"
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* Where lines go: LOG_FD (stderr, or the file LOG_PATH), or syslog. The
 * descriptor's number never changes once set: a reopen puts the new file
 * under the same number (dup3), so writers need no lock. */
static int log_fd = STDERR_FILENO;
static char *log_path;
static bool log_to_syslog;

/* Not through a symlink: the daemon runs as root, and whoever could put
 * one where the log goes would choose what it overwrites. */
static int open_log(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
}

int sfs_log_open(const char *path)
{
	if (!path)
		return 0;
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	int fd = open_log(path);
	if (fd < 0) {
		int e = errno;
		free(copy);
		return -e;
	}
	log_fd = fd;
	log_path = copy;
	return 0;
}

void sfs_log_syslog(void)
{
	openlog("streamfs", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_to_syslog = true;
}

/* One reopen at a time (two SIGHUPs close together). Lock: a leaf. */
static pthread_mutex_t reopen_mu = PTHREAD_MUTEX_INITIALIZER;

int sfs_log_reopen(void)
{
	if (!log_path)
		return 0;
	pthread_mutex_lock(&reopen_mu);
	int rc = 0, fd = open_log(log_path);
	if (fd < 0)
		rc = -errno;
	else if (dup3(fd, log_fd, O_CLOEXEC) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	pthread_mutex_unlock(&reopen_mu);
	return rc;
}

const char *sfs_log_target(void)
{
	return log_to_syslog ? "syslog" : log_path ? log_path : "stderr";
}

void sfs_log_close(void)
{
	if (log_fd != STDERR_FILENO) {
		close(log_fd);
		log_fd = STDERR_FILENO;
	}
	if (log_to_syslog) {
		closelog();
		log_to_syslog = false;
	}
	free(log_path);
	log_path = NULL;
}

static const char *level_name[] = { "info", "warn", "error" };

/*
 * "warn" lines are mostly refused input, which any user (or peer) can
 * cause as fast as it likes: a token bucket of LOG_WARN_BURST lines,
 * refilled at LOG_WARN_PER_S a second, keeps a flood from filling the
 * disk; what it drops is counted and said with the next line that passes.
 * Lock: warn_mu, a leaf.
 */
#define LOG_WARN_BURST 200
#define LOG_WARN_PER_S 50
static pthread_mutex_t warn_mu = PTHREAD_MUTEX_INITIALIZER;
static double warn_tokens = LOG_WARN_BURST;
static struct timespec warn_last;
static unsigned long warn_dropped;

/* May a warn line be written now? *DROPPED gets the count dropped before. */
static int warn_admit(unsigned long *dropped)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&warn_mu);
	if (warn_last.tv_sec || warn_last.tv_nsec) {
		double dt = (double)(now.tv_sec - warn_last.tv_sec) +
			    (double)(now.tv_nsec - warn_last.tv_nsec) / 1e9;
		warn_tokens += dt * LOG_WARN_PER_S;
		if (warn_tokens > LOG_WARN_BURST)
			warn_tokens = LOG_WARN_BURST;
	}
	warn_last = now;
	int ok = warn_tokens >= 1.0;
	if (ok) {
		warn_tokens -= 1.0;
		*dropped = warn_dropped;
		warn_dropped = 0;
	} else {
		warn_dropped++;
	}
	pthread_mutex_unlock(&warn_mu);
	return ok;
}

void sfs_log(enum sfs_log_level level, const char *fmt, ...)
{
	unsigned long dropped = 0;
	if (level != SFS_LOG_INFO)	/* counted even when not written */
		stats_add(level == SFS_LOG_WARN ? &sfs_stats.warnings : &sfs_stats.errors, 1);
	if (level == SFS_LOG_WARN && !warn_admit(&dropped))
		return;
	if (dropped)
		sfs_log(SFS_LOG_INFO, "%lu warn lines were not written (more than %d a second)",
			dropped, LOG_WARN_PER_S);
	char line[2048];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	int n = snprintf(line, sizeof(line),
			 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ streamfs[%d] %s: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000),
			 (int)getpid(), level_name[level]);
	char msg[2048];
	int head = n;	/* syslog adds its own time, name and PID */
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	if (m > (int)sizeof(msg) - 1)
		m = sizeof(msg) - 1;
	/* Names, paths and peers' words end up in messages: every byte
	 * outside printable ASCII is written as \xHH (a backslash as \\), so
	 * a line is one line, and shows what it says. */
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < m && n < (int)sizeof(line) - 6; i++) {
		unsigned char ch = (unsigned char)msg[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
			line[n++] = (char)ch;
		} else if (ch == '\\') {
			line[n++] = '\\';
			line[n++] = '\\';
		} else {
			line[n++] = '\\';
			line[n++] = 'x';
			line[n++] = hex[ch >> 4];
			line[n++] = hex[ch & 15];
		}
	}
	if (log_to_syslog) {
		static const int prio[] = { LOG_INFO, LOG_WARNING, LOG_ERR };
		line[n] = 0;
		syslog(prio[level], "%s: %s", level_name[level], line + head);
		return;
	}
	line[n++] = '\n';
	/* One write per line: O_APPEND keeps whole lines from threads apart. */
	ssize_t w = write(log_fd, line, n);
	(void)w;
}
