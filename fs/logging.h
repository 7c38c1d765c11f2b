/*
 * logging.h - the daemon's log: one line per event, to stderr, a file or
 * syslog (docs/operating.md, "Logs").
 *
 * Levels: "info" for lifecycle events, "warn" for refused input and
 * recoverable faults (a bad control-file write, a torn tail cut at start-up),
 * "error" for failures of the daemon itself. Tests fail on any "error" line,
 * so input that a user got wrong must be logged as "warn", never "error".
 *
 * Line format:  2026-11-29T21:30:00.123Z streamfs[PID] LEVEL: message
 *
 * "warn" lines are rate-limited (a burst of 200, then 50 a second): past
 * that they are counted, and the count is logged ("info") before the next
 * one written, so no user can fill the disk through the log.
 */
#ifndef STREAMFS_LOGGING_H
#define STREAMFS_LOGGING_H

enum sfs_log_level { SFS_LOG_INFO, SFS_LOG_WARN, SFS_LOG_ERROR };

/*
 * sfs_log_open - send the log to PATH (appended, created 0640, never
 * through a symlink) instead of stderr. PATH NULL keeps stderr. Returns 0
 * or a negative errno from open(2) (-ELOOP for a symlink). PATH is
 * copied (sfs_log_reopen opens it again).
 * Call once, before any thread starts.
 */
int sfs_log_open(const char *path);

/*
 * sfs_log_syslog - send the log to syslog (the journal under systemd),
 * ident "streamfs", facility LOG_DAEMON, with the PID; levels map to
 * LOG_INFO, LOG_WARNING and LOG_ERR. For a daemon gone to the background
 * without a log file (docs/operating.md, "Logs"). Call before any thread
 * starts, instead of sfs_log_open.
 */
void sfs_log_syslog(void);

/*
 * sfs_log_reopen - open the log file again under its name (logrotate
 * moved it away) and write on to the new file; what other threads write
 * meanwhile goes whole to the old or to the new one. Any thread. Returns
 * 0 (also when the log is stderr or syslog: nothing to do) or the
 * negative errno of open(2); the old file is then kept.
 */
int sfs_log_reopen(void);

/* sfs_log_target - where the log goes: "stderr", "syslog" or the file's
 * path. Static or owned by the log; valid until sfs_log_close. */
const char *sfs_log_target(void);

/* sfs_log_close - close the log file opened by sfs_log_open (or syslog);
 * the log goes to stderr again. */
void sfs_log_close(void);

/*
 * sfs_log - write one line at LEVEL. Thread-safe: each call is one write(2)
 * of a whole line, so lines from different threads never interleave.
 */
void sfs_log(enum sfs_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_info(...) sfs_log(SFS_LOG_INFO, __VA_ARGS__)
#define log_warn(...) sfs_log(SFS_LOG_WARN, __VA_ARGS__)
#define log_error(...) sfs_log(SFS_LOG_ERROR, __VA_ARGS__)

#endif
