/*
 * main.c - the streamfs daemon: options, configuration, mount, the
 * multi-threaded FUSE loop, SIGHUP (the log reopened), and an orderly stop
 * on SIGTERM or SIGINT (gateway and replication threads first, then every
 * topic checkpointed and closed).
 *
 *   streamfs -c CONFIG [-f] [-d] [-l LOGFILE] [-o OPT,...] [MOUNTPOINT]
 *   streamfs CONFIG MOUNTPOINT [-o OPT,...]     (as mount.fuse3 runs it)
 *
 * Options and behaviours: docs/operating.md and streamfs(8).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <spawn.h>
#include <time.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include "config.h"
#include "daemonize.h"
#include "fuse_ops.h"
#include "fuse_remote.h"
#include "httpd.h"
#include "local/localhome.h"
#include "nats/natshome.h"
#include "remote/remotehome.h"
#include "logging.h"
#include "metrics.h"
#include "stats.h"
#include "../replication/gateway.h"
#include "../replication/positions.h"
#include "../replication/replica.h"
#include "../replication/replicator.h"
#include "../replication/tls.h"
#include "util/clock.h"
#include "util/mountinfo.h"

/* The fsync = interval policy: a thread that syncs every topic periodically. */
struct syncer {
	struct sfs_namespace *ns;
	uint64_t interval_ms;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, started;
};

static void *syncer_main(void *arg)
{
	struct syncer *sy = arg;
	pthread_mutex_lock(&sy->mu);
	while (!sy->stop) {
		struct timespec ts = clock_deadline(CLOCK_REALTIME, sy->interval_ms);
		pthread_cond_timedwait(&sy->cv, &sy->mu, &ts);
		pthread_mutex_unlock(&sy->mu);
		ns_sync_all(sy->ns);
		pthread_mutex_lock(&sy->mu);
	}
	pthread_mutex_unlock(&sy->mu);
	return NULL;
}

static void syncer_stop(struct syncer *sy)
{
	if (!sy->started)
		return;
	pthread_mutex_lock(&sy->mu);
	sy->stop = true;
	pthread_cond_signal(&sy->cv);
	pthread_mutex_unlock(&sy->mu);
	pthread_join(sy->thread, NULL);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: streamfs -c CONFIG [-f] [-d] [-l LOGFILE] [-o OPT[,OPT...]] [MOUNTPOINT]\n"
		"       streamfs CONFIG [MOUNTPOINT] [-o OPT[,OPT...]]\n"
		"  -c CONFIG   mount.conf to use (INI; see mount.conf(5)); or the first argument\n"
		"  -f          stay in the foreground (log to stderr)\n"
		"  -l LOGFILE  log to LOGFILE (default: [mount] log, else stderr in the\n"
		"              foreground, syslog in the background); SIGHUP reopens it\n"
		"  -d          FUSE debug output (implies -f)\n"
		"  -o OPTS     mount options, passed to libfuse (as mount -o gives them)\n"
		"  --version   print the version and exit\n"
		"  MOUNTPOINT  overrides [mount] mountpoint\n"
		"See streamfs(8).\n");
}

/*
 * The SIGHUP thread: every other thread blocks SIGHUP, this one waits for
 * it and reopens the log (logrotate's postrotate `kill -HUP`); the mount
 * goes on serving. hup_stop ends it (the same signal, with STOP set).
 */
struct hup_waiter {
	pthread_t thread;
	atomic_bool stop;
	bool started;
};

static void *hup_main(void *arg)
{
	struct hup_waiter *h = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	for (;;) {
		int sig;
		if (sigwait(&set, &sig) != 0 || atomic_load(&h->stop))
			break;
		int rc = sfs_log_reopen();
		if (rc < 0)
			log_warn("SIGHUP: cannot reopen the log %s: %s; writing on to the old file",
				 sfs_log_target(), strerror(-rc));
		else
			log_info("SIGHUP: log reopened (%s)", sfs_log_target());
	}
	return NULL;
}

static void hup_stop(struct hup_waiter *h)
{
	if (!h->started)
		return;
	atomic_store(&h->stop, true);
	pthread_kill(h->thread, SIGHUP);
	pthread_join(h->thread, NULL);
	h->started = false;
}

/* The metrics endpoint's answer (fs/httpd.h): ARG is the namespace. */
static int render_metrics(void *arg, char **out, size_t *len)
{
	return metrics_render(arg, out, len);
}

/* Append -o OPTS to the options given to libfuse (BUF, LEN bytes, holds
 * ours already). 0, or -1 when they do not fit. */
static int add_fuse_opts(char *buf, size_t len, const char *opts)
{
	size_t n = strlen(buf);
	if (!*opts)
		return 0;
	int w = snprintf(buf + n, len - n, ",%s", opts);
	return w < 0 || (size_t)w >= len - n ? -1 : 0;
}

extern char **environ;

/* Does the comma-separated option list OPTS hold the option NAME? */
static bool has_fuse_opt(const char *opts, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = opts; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/* Would the kernel take V (up to END) as a max_read value? Its rule
 * (fs/fuse/inode.c, an unsigned 32-bit mount parameter read by kstrtouint
 * in base 0): an optional '+', then decimal, 0x hex or 0 octal digits,
 * nothing after, at most UINT_MAX. */
static bool kernel_u32_ok(const char *v, const char *end)
{
	if (v < end && *v == '+')
		v++;
	if (v >= end || *v < '0' || *v > '9')
		return false; /* no sign, space or empty value */
	char *e;
	errno = 0;
	unsigned long long n = strtoull(v, &e, 0);
	return !errno && e == end && n <= UINT_MAX;
}

/*
 * The max_read=N options of the comma-separated option list OPTS: the
 * last one's N as libfuse reads it (sscanf "%u": decimal, so "0x2000" is
 * 0, and 0 means none) into *OUT, which sfs_init asks for (libfuse 3.14
 * ends the session at the kernel's INIT unless init() asks for the value
 * it read, fuse_lowlevel.c do_init). Returns 0, or -EINVAL with the
 * first value the kernel would refuse in BAD (N bytes): libfuse passes
 * it on to the mount, which then fails with EINVAL after the clusters'
 * data directories were made (docs/operating.md).
 */
static int fuse_opt_max_read(const char *opts, unsigned *out, char *bad, size_t n)
{
	*out = 0;
	for (const char *p = opts; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		if (strncmp(p, "max_read=", 9) != 0)
			continue;
		const char *v = p + 9, *end = strchr(v, ',');
		if (!end)
			end = v + strlen(v);
		if (!kernel_u32_ok(v, end)) {
			snprintf(bad, n, "%.*s", (int)(end - v), v);
			return -EINVAL;
		}
		/* what libfuse's sscanf "%u" reads: the decimal digits */
		if (*v == '+')
			v++;
		unsigned long long x = strtoull(v, NULL, 10);
		*out = (unsigned)x;
	}
	return 0;
}

static int is_streamfs_mount(const char *mountpoint, const char *fstype, void *arg)
{
	return strcmp(mountpoint, arg) == 0 && strcmp(fstype, "fuse.streamfs") == 0;
}

/*
 * Under -o auto_unmount, clear the mount a killed streamfs left on MP (its
 * stat failed with ENOTCONN): fusermount3's watcher unmounts when the daemon
 * dies, but it can lose a race with the dying daemon's last file closing and
 * leave the mount (libfuse 3.14 util/fusermount.c, should_auto_unmount: it
 * unmounts only when opening the mountpoint fails with ENOTCONN, and a
 * request still in flight fails with ECONNABORTED). Only a dead
 * fuse.streamfs mount is touched, lazily (fusermount3 -uz), so files still
 * open there keep failing as they did. ABS (LEN bytes) receives MP made
 * absolute. 0 when cleared, -1 otherwise (the caller reports).
 */
static int clear_stale_mount(const char *mp, char *abs, size_t len)
{
	char parent[PATH_MAX], dir[PATH_MAX];
	const char *slash = strrchr(mp, '/');
	const char *base = slash ? slash + 1 : mp;
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || strlen(mp) >= sizeof(parent))
		return -1;
	if (!slash)
		strcpy(parent, ".");
	else if (slash == mp)
		strcpy(parent, "/");
	else
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - mp), mp);
	if (!realpath(parent, dir))
		return -1;
	int w = snprintf(abs, len, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, base);
	if (w < 0 || (size_t)w >= len || mountinfo_foreach(NULL, is_streamfs_mount, abs) != 1)
		return -1;
	char *const av[] = { "fusermount3", "-u", "-z", "--", abs, NULL };
	pid_t pid;
	int status;
	if (posix_spawnp(&pid, "fusermount3", NULL, NULL, av, environ) != 0)
		return -1;
	/* A lazy unmount does not wait on the dead daemon: this returns. */
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Open file descriptors: one per segment file, so raise the soft limit. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * The homes a cluster can have (fs/cluster.h), in the order they are asked
 * whether they serve a section of mount.conf; a section none serves is a
 * remote cluster. Adding a home is a folder and one line here.
 */
static const struct cluster_home *const homes[] = {
	&local_home,
	&nats_home,
	&remote_home,
};

int main(int argc, char **argv)
{
	const char *conf = NULL, *logfile = NULL;
	bool foreground = false, debug = false;
	int opt, status = 1;
	char err[1024];
	/* -o options: names the user may change, the user's, then what
	 * always holds (libfuse takes the last of a kind: mount.fuse3 passes
	 * "dev,suid" unless told otherwise). */
	char opts[2048] = "fsname=streamfs,subtype=streamfs";
	struct sfs_config cfg;
	memset(&cfg, 0, sizeof(cfg));

	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	/* Options may follow the arguments: mount.fuse3 runs
	 * "streamfs CONFIG MOUNTPOINT -o OPTS". */
	while ((opt = getopt_long(argc, argv, "c:fl:do:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': conf = optarg; break;
		case 'f': foreground = true; break;
		case 'l': logfile = optarg; break;
		case 'd': debug = foreground = true; break;
		case 'o':
			if (add_fuse_opts(opts, sizeof(opts), optarg) < 0) {
				fprintf(stderr, "streamfs: -o %s: too long\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("streamfs %s\n", SFS_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!conf && optind < argc)
		conf = argv[optind++];
	if (!conf) {
		fprintf(stderr, "streamfs: no configuration file: give it with -c CONFIG (or as the first argument),\n"
			"  e.g. streamfs -c /etc/streamfs/mount.conf; its keys are in mount.conf(5)\n");
		usage(stderr);
		return 2;
	}
	if (argc - optind > 1) {
		fprintf(stderr, "streamfs: too many arguments (from '%s' on)\n", argv[optind + 1]);
		usage(stderr);
		return 2;
	}
	int rc = config_load(conf, &cfg, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "streamfs: %s\n", err);
		return 1;
	}
	char mpbuf[PATH_MAX];
	const char *mp = optind < argc ? argv[optind] : cfg.mountpoint;
	if (!mp) {
		fprintf(stderr, "streamfs: %s: no mountpoint: set [mount] mountpoint or give one on the command line\n",
			conf);
		goto out_cfg;
	}
	struct stat st;
	if ((!realpath(mp, mpbuf) || stat(mpbuf, &st) < 0) && errno == ENOTCONN &&
	    has_fuse_opt(opts, "auto_unmount") && clear_stale_mount(mp, mpbuf, sizeof(mpbuf)) == 0)
		fprintf(stderr, "streamfs: %s: mountpoint %s: cleared the mount a killed daemon left "
			"(-o auto_unmount)\n", conf, mpbuf);
	if (!realpath(mp, mpbuf) || stat(mpbuf, &st) < 0) {
		if (errno == ENOTCONN)
			/* A FUSE daemon killed (kill -9, a crash) left its mount. */
			fprintf(stderr, "streamfs: %s: mountpoint %s: %s: a daemon that was killed left it mounted; "
				"unmount it first (fusermount3 -u %s, or fusermount3 -uz %s while files there are open)\n",
				conf, mp, strerror(errno), mp, mp);
		else
			fprintf(stderr, "streamfs: %s: mountpoint %s: %s\n", conf, mp, strerror(errno));
		goto out_cfg;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "streamfs: %s: mountpoint %s: not a directory\n", conf, mp);
		goto out_cfg;
	}
	if (mountinfo_is_mountpoint(mpbuf) > 0) {
		fprintf(stderr, "streamfs: %s: mountpoint %s is busy (already mounted); unmount it first (fusermount3 -u %s)\n",
			conf, mpbuf, mpbuf);
		goto out_cfg;
	}
	if (!logfile)
		logfile = cfg.log;
	if (logfile && (rc = sfs_log_open(logfile)) < 0) {
		fprintf(stderr, "streamfs: log file %s: %s\n", logfile, strerror(-rc));
		goto out_cfg;
	}
	raise_nofile();
	stats_start();

	static struct sfs_daemon d;
	static struct replicator repl;
	static struct gateway gw = { .lfd = -1 };
	static struct httpd web = { .lfd = -1, .wake = { -1, -1 } };
	SSL_CTX *tls = NULL;
	d.cfg = &cfg;
	d.mountpoint = mpbuf;
	sfs_daemon_init(&d, cfg.max_message);
	replicator_init(&repl, cfg.batch_messages, cfg.positions_interval_ms);
	/* Credentials and the listening port are checked before anything is
	 * mounted: a bad key or a port in use is a start-up error. */
	if (cfg.gateway_cert && cfg.gateway_key && cfg.gateway_ca) {
		tls = tls_ctx_new(cfg.gateway_cert, cfg.gateway_key, cfg.gateway_ca, err,
				  sizeof(err));
		if (!tls) {
			fprintf(stderr, "streamfs: %s: [gateway]: %s\n", conf, err);
			goto out_log;
		}
		replicator_set_gateway(&repl, tls, (int)cfg.gateway_timeout_ms);
	}
	if (cfg.gateway_listen && gateway_bind(&gw, cfg.gateway_listen, err, sizeof(err)) < 0) {
		fprintf(stderr, "streamfs: %s: %s\n", conf, err);
		goto out_log;
	}
	if (cfg.metrics_listen && httpd_bind(&web, cfg.metrics_listen, err, sizeof(err)) < 0) {
		fprintf(stderr, "streamfs: %s: %s\n", conf, err);
		goto out_log;
	}
	/* -o options, after the user's: the kernel checks modes
	 * (docs/filesystem.md: chmod and chown work and are enforced);
	 * nosuid,nodev as fusermount3 sets them for users, so a setuid topic
	 * never runs as its owner; other users may enter when root mounts it. */
	if (add_fuse_opts(opts, sizeof(opts), getuid() == 0 ?
			  "default_permissions,nosuid,nodev,allow_other" :
			  "default_permissions,nosuid,nodev") < 0) {
		fprintf(stderr, "streamfs: -o: too long\n");
		goto out_log;
	}
	char bad[256];
	if (fuse_opt_max_read(opts, &d.max_read, bad, sizeof(bad)) < 0) {
		fprintf(stderr, "streamfs: -o max_read=%s: not a number the kernel takes (decimal, "
			"0x hex or 0 octal, at most 4294967295); nothing was mounted or made\n", bad);
		goto out_log;
	}
	/* libfuse refuses an unknown -o option in fuse_new: asked now, before
	 * a cluster's data directory is made or a thread started, so that
	 * bad input changes nothing (the real one comes after ns_open). */
	{
		char *dargv[] = { argv[0], "-o", opts, NULL };
		struct fuse_args dargs = FUSE_ARGS_INIT(3, dargv);
		struct fuse *dry = fuse_new(&dargs, &sfs_fuse_ops, sizeof(sfs_fuse_ops), &d);
		fuse_opt_free_args(&dargs);
		if (!dry) {
			fprintf(stderr, "streamfs: -o: an option libfuse does not take (its message is "
				"above); nothing was mounted or made\n");
			goto out_log;
		}
		fuse_destroy(dry);
	}
	/* To the background now, before a cluster's home starts threads
	 * (libnats' own): a fork keeps only the forking thread
	 * (fs/daemonize.c). Errors from here on still reach this stderr. */
	if (!foreground && (rc = sfs_daemon_fork()) < 0) {
		fprintf(stderr, "streamfs: cannot go to the background: %s\n", strerror(-rc));
		goto out_log;
	}
	rc = ns_open(&d.ns, &cfg, homes, sizeof(homes) / sizeof(homes[0]), &replication_hooks,
		     &repl, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "streamfs: %s\n", err);
		goto out_log;
	}
	for (int i = 0; tls && i < d.ns.nclusters; i++)
		if (!d.ns.clusters[i].remote && !tls_ctx_names(tls, d.ns.clusters[i].name))
			log_warn("[gateway] cert %s does not name local cluster %s: other hosts will refuse its streams as upstreams",
				 cfg.gateway_cert, d.ns.clusters[i].name);
	struct stream **streams;
	int n = ns_streams_snapshot(&d.ns, &streams);
	for (int i = 0; i < n; i++) {
		positions_load(streams[i]);
		stream_put(streams[i]);
	}
	if (n >= 0)
		free(streams);

	char *fargv[] = { argv[0], "-o", opts, debug ? "-d" : NULL, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(debug ? 4 : 3, fargv);
	struct fuse *fuse = fuse_new(&args, &sfs_fuse_ops, sizeof(sfs_fuse_ops), &d);
	if (!fuse) {
		fprintf(stderr, "streamfs: cannot set up FUSE\n");
		goto out_ns;
	}
	if (fuse_mount(fuse, mpbuf) != 0) {
		fprintf(stderr, "streamfs: %s: cannot mount on %s\n", conf, mpbuf);
		goto out_fuse;
	}
	/* Mounted: the waiting parent exits 0 (in the background). */
	sfs_daemon_ready();
	/* In the background stderr is /dev/null: without a log file the
	 * log goes to syslog (docs/operating.md, "Logs"). */
	if (!foreground && !logfile)
		sfs_log_syslog();
	if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0)
		goto out_unmount;
	/* The daemon's own threads: they block the stop signals,
	 * so that SIGTERM always reaches a thread that ends the FUSE loop
	 * (libfuse's handler only sets a flag). SIGHUP stays blocked in
	 * every thread but the SIGHUP thread's, which waits for it. */
	sigset_t stopsigs, oldmask;
	sigemptyset(&stopsigs);
	sigaddset(&stopsigs, SIGTERM);
	sigaddset(&stopsigs, SIGINT);
	sigaddset(&stopsigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stopsigs, &oldmask);
	sigaddset(&oldmask, SIGHUP);
	static struct hup_waiter hup;
	hup.started = pthread_create(&hup.thread, NULL, hup_main, &hup) == 0;
	if ((rc = replicator_start(&repl, &d.ns)) < 0) {
		pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
		log_error("cannot start the replication thread: %s", strerror(-rc));
		goto out_signals;
	}
	if (gw.lfd >= 0 && (rc = gateway_start(&gw, &d.ns, tls, (int)cfg.gateway_timeout_ms,
						      cfg.max_message, mpbuf)) < 0) {
		pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
		log_error("cannot start the gateway: %s", strerror(-rc));
		replicator_stop(&repl);
		goto out_signals;
	}
	if (web.lfd >= 0 && (rc = httpd_start(&web, render_metrics, &d.ns)) < 0)
		log_error("cannot start the metrics endpoint %s: %s", cfg.metrics_listen, strerror(-rc));
	static struct syncer sy = { .mu = PTHREAD_MUTEX_INITIALIZER,
				    .cv = PTHREAD_COND_INITIALIZER };
	if (cfg.fsync == SFS_FSYNC_INTERVAL) {
		sy.ns = &d.ns;
		sy.interval_ms = cfg.fsync_interval_ms;
		sy.started = pthread_create(&sy.thread, NULL, syncer_main, &sy) == 0;
	}
	pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
	log_info("streamfs %s mounted %s on %s (clusters: %d; log: %s)", SFS_VERSION, conf, mpbuf,
		 cfg.nclusters, sfs_log_target());
	if (cfg.read_ahead)
		log_info("%s: [mount] read_ahead has no effect: topics are read without the kernel's page cache (docs/filesystem.md)",
			 conf);
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(lc, 0);
	fuse_loop_cfg_set_max_threads(lc, 16);
	/* A wait of a home on its store ends at a signal to the caller. */
	cluster_set_interrupt_hook(fuse_request_interrupted);
	rc = fuse_loop_mt(fuse, lc);
	fuse_loop_cfg_destroy(lc);
	if (rc < 0)
		log_error("the FUSE session ended in an error: %s", strerror(-rc));
	/* libfuse's handlers end the loop with the signal's number (the
	 * session's exit flag is reset by then): a requested, clean stop. */
	if (rc == SIGTERM || rc == SIGINT)
		rc = 0;
	hup_stop(&hup);
	httpd_stop(&web);
	/* The gateway stops after the unmount (out_unmount): a peer's file
	 * operation it carries out on this mount (replication/gwfs.c) ends
	 * when the unmount closes the FUSE device, not never. */
	replicator_stop(&repl);
	syncer_stop(&sy);
	if (cfg.fsync != SFS_FSYNC_OS)
		ns_sync_all(&d.ns);
	status = rc == 0 ? 0 : 1;
	log_info("unmounting %s", mpbuf);
out_signals:
	hup_stop(&hup);
	httpd_stop(&web);
	fuse_remove_signal_handlers(fuse_get_session(fuse));
	/* libfuse gives SIGPIPE its default back, which kills: the gateway,
	 * stopped after the unmount, still closes TLS connections whose
	 * peers may be gone. */
	signal(SIGPIPE, SIG_IGN);
out_unmount:
	fuse_unmount(fuse);
	gateway_stop(&gw);
out_fuse:
	fuse_destroy(fuse);
	fuse_opt_free_args(&args);
out_ns:
	ns_close(&d.ns);
	if (status == 0)
		log_info("stopped cleanly");
out_log:
	httpd_stop(&web);
	gateway_stop(&gw);
	tls_ctx_free(tls);
	sfs_daemon_destroy(&d);
	sfs_log_close();
out_cfg:
	config_free(&cfg);
	return status;
}
