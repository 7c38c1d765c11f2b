/*
 * test_config.c - unit tests of fs/config.c (mount.conf parsing): a full
 * good file, defaults, path resolution, every class of error and its
 * one-line message, and the repository's own mount.conf.
 * Each test writes its files under a fresh mkdtemp directory.
 */
#define _GNU_SOURCE	/* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/scratch.h"
#include "fs/config.h"
#include "fs/config_nats.h"

/* Ends the list of substrings given to expect_error (a typed NULL). */
#define END ((const char *)NULL)

static char tmpdir[1024];	/* realpath of this test's directory */

static int setup(void **state)
{
	(void)state;
	return scratch_make("config", tmpdir, sizeof(tmpdir), NULL);
}

static int teardown(void **state)
{
	(void)state;
	return scratch_remove(tmpdir, NULL);
}

/* Write TEXT to tmpdir/NAME (NAME may contain one subdirectory); returns a
 * static path buffer. */
static const char *write_conf(const char *name, const char *text)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	mkdir(path, 0755);
	*slash = '/';
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* Load TEXT and expect -EINVAL with a one-line message that starts
 * "PATH:LINE: " and contains each of the NULL-terminated substrings. */
static void expect_error(const char *text, int line, ...)
{
	const char *path = write_conf("mount.conf", text);
	struct sfs_config cfg;
	char err[512];
	int rc = config_load(path, &cfg, err, sizeof(err));
	if (rc != -EINVAL)
		print_error("config_load returned %d for:\n%s\n", rc, text);
	assert_int_equal(rc, -EINVAL);
	char prefix[PATH_MAX + 32];
	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", path);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		print_error("message '%s' does not start with '%s'\n", err,
			    prefix);
	assert_int_equal(strncmp(err, prefix, strlen(prefix)), 0);
	assert_null(strchr(err, '\n'));
	va_list ap;
	va_start(ap, line);
	for (const char *s = va_arg(ap, const char *); s;
	     s = va_arg(ap, const char *)) {
		if (!strstr(err, s))
			print_error("message '%s' lacks '%s'\n", err, s);
		assert_non_null(strstr(err, s));
	}
	va_end(ap);
	/* nothing is left allocated or half-filled on error */
	assert_null(cfg.path);
	assert_int_equal(cfg.nclusters, 0);
	config_free(&cfg);
}

/* Load TEXT (as tmpdir/NAME) and expect success. */
static void load_ok(const char *name, const char *text, struct sfs_config *cfg)
{
	const char *path = write_conf(name, text);
	char err[512] = "";
	int rc = config_load(path, cfg, err, sizeof(err));
	if (rc != 0)
		print_error("config_load: %d: %s\n", rc, err);
	assert_int_equal(rc, 0);
	assert_string_equal(cfg->path, path);
}

static char *in_tmp(const char *rel)
{
	static char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s/%s", tmpdir, rel);
	return buf;
}

static void test_good_file(void **state)
{
	(void)state;
	struct sfs_config cfg;
	load_ok("mount.conf",
		"; a comment\n"
		"# another\n"
		"[mount]\n"
		"mountpoint = /mapr\n"
		"log = /var/log/streamfs.log   ; inline comment\n"
		"max_message = 2M\n"
		"segment_bytes = 128MiB\n"
		"fsync = always\n"
		"fsync_interval_ms = 250\n"
		"read_ahead = 4M\n"
		"\n"
		"[cluster sanfrancisco]\n"
		"data = /srv/sf\n"
		"[cluster newyork]\n"
		"data=/srv/ny\n"
		"[cluster london]            ; remote\n"
		"gateway = 192.0.2.10:5660\n"
		"[cluster tokyo]\n"
		"gateway = [2001:db8::1]:5660\n"
		"[gateway]\n"
		"listen = 127.0.0.1:5660\n"
		"cert = /etc/sfs/me.pem\n"
		"key = /etc/sfs/me.key\n"
		"ca = /etc/sfs/ca.pem\n"
		"[replication]\n"
		"sync_timeout_ms = 1500\n"
		"batch_messages = 100\n"
		"positions_interval_ms = 250\n", &cfg);
	assert_string_equal(cfg.mountpoint, "/mapr");
	assert_string_equal(cfg.log, "/var/log/streamfs.log");
	assert_int_equal(cfg.max_message, 2 * 1024 * 1024);
	assert_int_equal(cfg.segment_bytes, 128ULL * 1024 * 1024);
	assert_int_equal(cfg.fsync, SFS_FSYNC_ALWAYS);
	assert_int_equal(cfg.fsync_interval_ms, 250);
	assert_int_equal(cfg.read_ahead, 4ULL << 20);
	assert_int_equal(cfg.sync_timeout_ms, 1500);
	assert_int_equal(cfg.batch_messages, 100);
	assert_int_equal(cfg.positions_interval_ms, 250);
	assert_string_equal(cfg.gateway_listen, "127.0.0.1:5660");
	assert_string_equal(cfg.gateway_cert, "/etc/sfs/me.pem");
	assert_string_equal(cfg.gateway_key, "/etc/sfs/me.key");
	assert_string_equal(cfg.gateway_ca, "/etc/sfs/ca.pem");

	assert_int_equal(cfg.nclusters, 4);
	assert_string_equal(cfg.clusters[0].name, "sanfrancisco");
	assert_string_equal(cfg.clusters[0].data, "/srv/sf");
	assert_null(cfg.clusters[0].gateway);
	assert_int_equal(cfg.clusters[0].line, 12);
	assert_string_equal(cfg.clusters[1].name, "newyork");
	assert_string_equal(cfg.clusters[1].data, "/srv/ny");
	assert_string_equal(cfg.clusters[2].name, "london");
	assert_null(cfg.clusters[2].data);
	assert_string_equal(cfg.clusters[2].gateway, "192.0.2.10:5660");
	assert_string_equal(cfg.clusters[3].gateway, "[2001:db8::1]:5660");

	const struct sfs_cluster_conf *c = config_find_cluster(&cfg, "newyork");
	assert_ptr_equal(c, &cfg.clusters[1]);
	assert_null(config_find_cluster(&cfg, "paris"));
	config_free(&cfg);
	assert_null(cfg.path);
	assert_int_equal(cfg.nclusters, 0);
	config_free(&cfg);	/* twice is harmless */
}

static void test_defaults(void **state)
{
	(void)state;
	struct sfs_config cfg;
	load_ok("mount.conf", "[cluster a]\ndata = /d/a\n", &cfg);
	assert_null(cfg.mountpoint);
	assert_null(cfg.log);
	assert_int_equal(cfg.max_message, 1048576);
	assert_int_equal(cfg.segment_bytes, 64ULL * 1024 * 1024);
	assert_int_equal(cfg.fsync, SFS_FSYNC_OS);
	assert_int_equal(cfg.fsync_interval_ms, 1000);
	assert_int_equal(cfg.read_ahead, 0);
	assert_int_equal(cfg.sync_timeout_ms, 1000);
	assert_int_equal(cfg.batch_messages, 4096);
	assert_int_equal(cfg.positions_interval_ms, 1000);
	assert_null(cfg.gateway_listen);
	assert_null(cfg.gateway_cert);
	assert_null(cfg.gateway_key);
	assert_null(cfg.gateway_ca);
	assert_int_equal(cfg.nclusters, 1);
	config_free(&cfg);
}

static void test_sizes(void **state)
{
	(void)state;
	static const struct { const char *text; uint64_t bytes; } cases[] = {
		{ "4096", 4096 }, { "4K", 4096 }, { "4k", 4096 },
		{ "4KiB", 4096 }, { "4KB", 4096 }, { "3M", 3ULL << 20 },
		{ "3mib", 3ULL << 20 }, { "2G", 2ULL << 30 },
		{ "1024G", 1ULL << 40 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "[mount]\nsegment_bytes = %s\n"
			 "[cluster a]\ndata = /a\n", cases[i].text);
		struct sfs_config cfg;
		load_ok("mount.conf", text, &cfg);
		assert_int_equal(cfg.segment_bytes, cases[i].bytes);
		config_free(&cfg);
	}
	struct sfs_config cfg;
	/* read_ahead = 0: leave the kernel's read-ahead alone */
	load_ok("mount.conf", "[mount]\nread_ahead = 0\n[cluster a]\ndata = /a\n", &cfg);
	assert_int_equal(cfg.read_ahead, 0);
	config_free(&cfg);
	load_ok("mount.conf", "[mount]\nmax_message = 1\nfsync = interval\n"
		"[cluster a]\ndata = /a\n", &cfg);
	assert_int_equal(cfg.max_message, 1);
	assert_int_equal(cfg.fsync, SFS_FSYNC_INTERVAL);
	config_free(&cfg);
}

static void test_relative_paths(void **state)
{
	(void)state;
	struct sfs_config cfg;
	load_ok("etc/mount.conf",
		"[mount]\n"
		"mountpoint = mnt\n"
		"log = ./logs//streamfs.log\n"
		"[cluster a]\n"
		"data = ./data/a\n"
		"[cluster b]\n"
		"data = ../data/b/\n"
		"[cluster c]\n"
		"data = /abs/./c\n"
		"[gateway]\n"
		"cert = certs/me.pem\n", &cfg);
	char want[PATH_MAX];
	snprintf(want, sizeof(want), "%s/etc/mnt", tmpdir);
	assert_string_equal(cfg.mountpoint, want);
	snprintf(want, sizeof(want), "%s/etc/logs/streamfs.log", tmpdir);
	assert_string_equal(cfg.log, want);
	snprintf(want, sizeof(want), "%s/etc/data/a", tmpdir);
	assert_string_equal(cfg.clusters[0].data, want);
	snprintf(want, sizeof(want), "%s/etc/../data/b", tmpdir);
	assert_string_equal(cfg.clusters[1].data, want);
	assert_string_equal(cfg.clusters[2].data, "/abs/c");
	snprintf(want, sizeof(want), "%s/etc/certs/me.pem", tmpdir);
	assert_string_equal(cfg.gateway_cert, want);
	config_free(&cfg);
}

/* A config path given relative to the working directory still yields
 * absolute paths, and the data directories need not exist. */
static void test_relative_config_path(void **state)
{
	(void)state;
	write_conf("rel/mount.conf", "[cluster a]\ndata = data/a\n");
	char cwd[PATH_MAX];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	struct sfs_config cfg;
	char err[512];
	int rc = config_load("rel/mount.conf", &cfg, err, sizeof(err));
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rc, 0);
	assert_string_equal(cfg.path, "rel/mount.conf");
	assert_string_equal(cfg.clusters[0].data, in_tmp("rel/data/a"));
	config_free(&cfg);
}

static void test_missing_file(void **state)
{
	(void)state;
	struct sfs_config cfg;
	char err[512];
	int rc = config_load(in_tmp("nope.conf"), &cfg, err, sizeof(err));
	assert_int_equal(rc, -ENOENT);
	assert_non_null(strstr(err, "nope.conf"));
	assert_null(cfg.path);
	config_free(&cfg);
	/* a directory opens but cannot be read */
	rc = config_load(tmpdir, &cfg, err, sizeof(err));
	assert_int_equal(rc, -EISDIR);
	assert_non_null(strstr(err, tmpdir));
	assert_null(cfg.path);
}

static void test_unknown_key(void **state)
{
	(void)state;
	expect_error("[mount]\nmountpoint = /mapr\n[cluster a]\ndata = /a\n"
		     "colour = blue\n", 5, "[cluster a]", "unknown key 'colour'",
		     END);
	expect_error("[mount]\nmountpoint = /mapr\nfoo = 1\n[cluster a]\n"
		     "data = /a\n", 3, "[mount]", "unknown key 'foo'", END);
	/* a cluster key in [mount] is unknown there */
	expect_error("[mount]\ndata = /a\n[cluster a]\ndata = /a\n", 2,
		     "[mount]", "'data'", END);
	expect_error("key = 1\n[cluster a]\ndata = /a\n", 1, "'key'",
		     "before any [section]", END);
}

static void test_unknown_section(void **state)
{
	(void)state;
	expect_error("[cluster a]\ndata = /a\n\n[mounts]\nmountpoint = /x\n", 4,
		     "[mounts]", "unknown section", END);
	/* an empty unknown section is found too */
	expect_error("[cluster a]\ndata = /a\n[stuff]\n", 3, "[stuff]", END);
}

static void test_duplicate_cluster(void **state)
{
	(void)state;
	expect_error("[cluster a]\ndata = /a\n[cluster b]\ndata = /b\n"
		     "[cluster a]\ndata = /a2\n", 5, "[cluster a]",
		     "duplicate cluster 'a'", "line 1", END);
	/* directly repeated header, same keys */
	expect_error("[cluster a]\ndata = /a\n[cluster a]\ndata = /a\n", 3,
		     "duplicate cluster 'a'", END);
}

/* [cluster] access: what a remote cluster may do here (the global
 * namespace, docs/global-namespace.md). */
static void test_access(void **state)
{
	(void)state;
	static const char *const gw = "[gateway]\ncert = /c\nkey = /k\nca = /a\n";
	char text[512];
	struct sfs_config cfg;
	static const char *const names[] = { "replicate", "read", "write", "admin" };
	for (int a = 0; a < 4; a++) {
		snprintf(text, sizeof(text), "[cluster a]\ndata = /a\n[cluster b]\n"
			 "gateway = h:1\naccess = %s\n%s", names[a], gw);
		load_ok("mount.conf", text, &cfg);
		assert_int_equal(cfg.clusters[1].access, a);
		assert_int_equal(cfg.clusters[0].access, SFS_ACCESS_REPLICATE);
		config_free(&cfg);
	}
	snprintf(text, sizeof(text), "[cluster b]\ngateway = h:1\n%s", gw);
	load_ok("mount.conf", text, &cfg);
	assert_int_equal(cfg.clusters[0].access, SFS_ACCESS_REPLICATE);
	config_free(&cfg);
	snprintf(text, sizeof(text), "[cluster b]\ngateway = h:1\naccess = all\n%s", gw);
	expect_error(text, 3, "[cluster b]", "bad value 'all' for 'access'",
		     "replicate, read, write or admin", END);
	expect_error("[cluster a]\ndata = /a\naccess = read\n", 3, "[cluster a]",
		     "'access' is what a remote cluster may do here", END);
	snprintf(text, sizeof(text), "[cluster b]\ngateway = h:1\naccess = read\naccess = write\n%s", gw);
	expect_error(text, 4, "'access' already set at line 3", END);
}

static void test_duplicate_key(void **state)
{
	(void)state;
	expect_error("[mount]\nlog = /x\nlog = /y\n[cluster a]\ndata = /a\n",
		     3, "'log'", "line 2", END);
	expect_error("[cluster a]\ndata = /a\ndata = /b\n", 3, "'data'",
		     "line 2", END);
	/* repeated sections merge; a key still may be given only once */
	expect_error("[mount]\nlog = /x\n[cluster a]\ndata = /a\n[mount]\n"
		     "log = /y\n", 6, "'log'", END);
}

static void test_bad_name(void **state)
{
	(void)state;
	expect_error("[cluster .hidden]\ndata = /a\n", 1,
		     "invalid cluster name '.hidden'", END);
	expect_error("[cluster a/b]\ndata = /a\n", 1,
		     "invalid cluster name 'a/b'", END);
	expect_error("[cluster a b]\ndata = /a\n", 1,
		     "invalid cluster name 'a b'", END);
	expect_error("[cluster]\ndata = /a\n", 1, "missing cluster name", END);
	expect_error("[cluster   ]\ndata = /a\n", 1, "missing cluster name",
		     END);
	char text[400];
	char longname[257];
	memset(longname, 'x', 256);
	longname[256] = '\0';
	snprintf(text, sizeof(text), "[cluster %s]\n", longname);
	/* 256 characters makes the line too long for inih before the name
	 * rule applies; either way it is refused on line 1 */
	expect_error(text, 1, END);
}

static void test_data_and_gateway(void **state)
{
	(void)state;
	expect_error("[cluster a]\ndata = /a\ngateway = h:1\n", 3,
		     "[cluster a]", "'gateway'", "'data'", "not both", END);
	expect_error("[cluster a]\ngateway = h:1\ndata = /a\n", 3,
		     "[cluster a]", "not both", END);
}

static void test_neither(void **state)
{
	(void)state;
	expect_error("[cluster a]\ndata = /a\n[cluster b]\n; nothing\n"
		     "[cluster c]\ndata = /c\n", 3, "[cluster b]", "'data'",
		     "'gateway'", END);
	/* the last section, empty */
	expect_error("[cluster a]\ndata = /a\n[cluster b]\n", 3, "[cluster b]",
		     END);
}

/* A cluster kept in NATS JetStream: every key, its defaults, relative
 * files, and each refusal with its file, line and key (fs/config_nats.c). */
static void test_nats(void **state)
{
	(void)state;
	struct sfs_config cfg;
	load_ok("mount.conf",
		"[cluster tokyo]\n"
		"nats = nats://127.0.0.1:4222, tls://[::1]:4223,nats://n3.example:4224\n"
		"nats_creds = creds/tokyo.creds\n"
		"nats_tls_cert = /etc/sfs/c.pem\n"
		"nats_tls_key = /etc/sfs/k.pem\n"
		"nats_tls_ca = ca.pem\n"
		"nats_replicas = 3\n"
		"nats_timeout_ms = 250\n"
		"nats_cache = 1G\n"
		"[cluster osaka]\n"
		"nats = nats://127.0.0.1:4222\n", &cfg);
	assert_int_equal(cfg.nclusters, 2);
	const struct sfs_cluster_conf *t = &cfg.clusters[0], *o = &cfg.clusters[1];
	assert_null(t->data);
	assert_null(t->gateway);
	assert_string_equal(t->nats_creds, in_tmp("creds/tokyo.creds"));
	assert_string_equal(t->nats_tls_cert, "/etc/sfs/c.pem");
	assert_string_equal(t->nats_tls_ca, in_tmp("ca.pem"));
	assert_int_equal(t->nats_replicas, 3);
	assert_int_equal(t->nats_timeout_ms, 250);
	assert_int_equal(t->nats_cache, 1ULL << 30);
	char **urls;
	int n = config_nats_urls(t, &urls);
	assert_int_equal(n, 3);
	assert_string_equal(urls[0], "nats://127.0.0.1:4222");
	assert_string_equal(urls[1], "tls://[::1]:4223");
	assert_string_equal(urls[2], "nats://n3.example:4224");
	for (int i = 0; i < n; i++)
		free(urls[i]);
	free(urls);
	/* defaults */
	assert_int_equal(o->nats_replicas, 0);
	assert_int_equal(o->nats_timeout_ms, SFS_NATS_TIMEOUT_MS);
	assert_int_equal(o->nats_cache, SFS_NATS_CACHE);
	assert_null(o->nats_creds);
	config_free(&cfg);
	load_ok("mount.conf", "[cluster tokyo]\nnats = nats://h:1\nnats_cache = 0\n", &cfg);
	assert_int_equal(cfg.clusters[0].nats_cache, 0);
	config_free(&cfg);

	expect_error("[cluster t]\nnats = 127.0.0.1:4222\n", 2, "[cluster t]", "'nats'",
		     "nats://HOST:PORT", END);
	expect_error("[cluster t]\nnats = nats://h:1,\n", 2, "'nats'", END);
	expect_error("[cluster t]\nnats = nats://h:99999\n", 2, "'nats'", END);
	expect_error("[cluster t]\nnats = http://h:1\n", 2, "'nats'", END);
	expect_error("[cluster t]\nnats = nats://h:1\nnats = nats://h:2\n", 3,
		     "'nats' already set at line 2", END);
	expect_error("[cluster t]\nnats = nats://h:1\nnats_replicas = 0\n", 3,
		     "'nats_replicas'", "1 to 5", END);
	expect_error("[cluster t]\nnats = nats://h:1\nnats_replicas = 6\n", 3,
		     "'nats_replicas'", END);
	expect_error("[cluster t]\nnats = nats://h:1\nnats_timeout_ms = 99\n", 3,
		     "'nats_timeout_ms'", "100 to 600000", END);
	expect_error("[cluster t]\nnats = nats://h:1\nnats_timeout_ms = 1s\n", 3,
		     "'nats_timeout_ms'", END);
	expect_error("[cluster t]\nnats = nats://h:1\nnats_cache = 65G\n", 3,
		     "'nats_cache'", "0 to 64G", END);
	expect_error("[cluster t]\nnats = nats://h:1\nnats_cache = lots\n", 3,
		     "'nats_cache'", END);
	expect_error("[cluster t]\ndata = /d\nnats_cache = 1M\n", 3,
		     "'nats_cache' without 'nats'", END);
	expect_error("[cluster t]\nnats = nats://h:1\nnats_tls = x\n", 3,
		     "unknown key 'nats_tls'", END);
	expect_error("[cluster t]\nnats = nats://h:1\nnats_creds =\n", 3,
		     "empty value for 'nats_creds'", END);
	expect_error("[cluster t]\ndata = /d\nnats = nats://h:1\n", 3, "[cluster t]",
		     "'nats' given with 'data'", END);
	expect_error("[cluster t]\nnats = nats://h:1\ngateway = h:1\n", 2,
		     "'nats' given with 'gateway'", END);
	expect_error("[cluster t]\ndata = /d\nnats_replicas = 1\n", 3,
		     "'nats_replicas' without 'nats'", END);
	expect_error("[cluster t]\nnats = nats://h:1\nnats_tls_key = k.pem\n", 3,
		     "'nats_tls_key' without 'nats_tls_cert'", END);
	expect_error("[cluster t]\nnats_timeout_ms = 100\n", 1, "needs 'data'", "'nats'", END);
	expect_error("[mount]\nnats = nats://h:1\n[cluster t]\ndata = /d\n", 2,
		     "[mount]: unknown key 'nats'", END);
}

static void test_no_cluster(void **state)
{
	(void)state;
	expect_error("[mount]\nmountpoint = /mapr\n", 0, "no cluster", END);
	expect_error("", 0, "no cluster", END);
}

static void test_bad_number(void **state)
{
	(void)state;
	const char *tail = "[cluster a]\ndata = /a\n";
	static const struct { const char *line; const char *want; } cases[] = {
		{ "max_message = 12Q", "bad value '12Q' for 'max_message'" },
		{ "max_message = -1", "bad value '-1'" },
		{ "max_message = 1.5M", "bad value '1.5M'" },
		{ "max_message = M", "bad value 'M'" },
		{ "max_message = 0", "out of range" },
		{ "max_message = 65M", "out of range (1 to 64M)" },
		{ "max_message = 99999999999999999999", "bad value" },
		{ "max_message = 99999999999G", "bad value" },
		{ "segment_bytes = 100", "out of range (4K to" },
		{ "segment_bytes = 1 M", "bad value '1 M'" },
		{ "read_ahead = 2G", "out of range (0 to 1G)" },
		{ "read_ahead = -1", "bad value '-1'" },
		{ "read_ahead = lots", "bad value 'lots'" },
		{ "read_ahead = 512", "not 0 or a whole number of 4K pages" },
		{ "read_ahead = 6000", "'read_ahead'" },
		{ "fsync_interval_ms = 0", "out of range" },
		{ "fsync_interval_ms = 10ms", "bad value '10ms'" },
		{ "fsync_interval_ms = 1K", "bad value '1K'" },
		{ "fsync = sometimes", "bad value 'sometimes' for 'fsync'" },
		{ "fsync = OS", "bad value 'OS'" },
		{ "log =", "empty value for 'log'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "[mount]\n%s\n%s", cases[i].line,
			 tail);
		expect_error(text, 2, "[mount]", cases[i].want, END);
	}
	expect_error("[cluster a]\ndata = /a\n[replication]\n"
		     "batch_messages = 0\n", 4, "[replication]",
		     "'batch_messages'", END);
	expect_error("[cluster a]\ndata = /a\n[replication]\n"
		     "sync_timeout_ms = soon\n", 4, "'sync_timeout_ms'", END);
	expect_error("[cluster a]\ndata = /a\n[replication]\n"
		     "positions_interval_ms = 3600001\n", 4, "'positions_interval_ms'",
		     "out of range (0 to 3600000)", END);
	expect_error("[cluster a]\ndata = /a\n[replication]\n"
		     "positions_interval_ms = -5\n", 4, "bad value '-5'", END);
	/* 0 is allowed: save after every pass */
	struct sfs_config cfg;
	load_ok("mount.conf", "[cluster a]\ndata = /a\n[replication]\n"
		"positions_interval_ms = 0\n", &cfg);
	assert_int_equal(cfg.positions_interval_ms, 0);
	config_free(&cfg);
}

static void test_bad_hostport(void **state)
{
	(void)state;
	static const char *bad[] = {
		"host", "host:", ":5660", "host:0", "host:65536", "host:port",
		"::1:5660", "a b:1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "[cluster r]\ngateway = %s\n",
			 bad[i]);
		expect_error(text, 2, "[cluster r]", "'gateway'", "HOST:PORT",
			     END);
	}
	expect_error("[cluster a]\ndata = /a\n[gateway]\nlisten = 5660\n", 4,
		     "[gateway]", "'listen'", END);
}

/* The gateway has no plain mode: listen or a remote cluster needs all
 * three credentials, and the message names the missing key and why. */
static void test_gateway_credentials(void **state)
{
	(void)state;
	expect_error("[cluster a]\ndata = /a\n[gateway]\nlisten = 127.0.0.1:5660\n"
		     "key = /k\nca = /ca\n", 4,
		     "[gateway]", "'cert' is required", "'listen' is set", END);
	expect_error("[cluster a]\ndata = /a\n[cluster r]\ngateway = h:1\n"
		     "[gateway]\ncert = /c\nca = /ca\n", 3,
		     "[gateway]", "'key' is required", "remote cluster", END);
	expect_error("[cluster r]\ngateway = h:1\n[gateway]\ncert = /c\nkey = /k\n", 1,
		     "'ca' is required", END);
	expect_error("[cluster a]\ndata = /a\n[gateway]\ntimeout_ms = 50\n", 4,
		     "'timeout_ms'", END);
	struct sfs_config cfg;
	load_ok("gw.conf", "[cluster a]\ndata = /a\n[cluster r]\ngateway = h:1\n"
		"[gateway]\ncert = /c\nkey = /k\nca = /ca\ntimeout_ms = 250\n", &cfg);
	assert_int_equal(cfg.gateway_timeout_ms, 250);
	assert_null(cfg.gateway_listen);
	config_free(&cfg);
	/* Without either, credentials are not needed, and the default holds. */
	load_ok("plain.conf", "[cluster a]\ndata = /a\n", &cfg);
	assert_int_equal(cfg.gateway_timeout_ms, 5000);
	config_free(&cfg);
}

static void test_syntax(void **state)
{
	(void)state;
	expect_error("[cluster a]\ndata = /a\njust words\n", 3, "expected", END);
	expect_error("[cluster a\ndata = /a\n", 1, "']'", END);
	/* an indented line continues the previous key: refused */
	expect_error("[cluster a]\ndata = /a\n    /more\n", 3, "indented", END);
}

static void test_nul_byte(void **state)
{
	(void)state;
	static const char text[] = "[cluster a]\ndata = /a\0b\n";
	const char *path = write_conf("mount.conf", "");
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, sizeof(text) - 1, f), sizeof(text) - 1);
	assert_int_equal(fclose(f), 0);
	struct sfs_config cfg;
	char err[512];
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2: NUL byte"));
	config_free(&cfg);
}

static void test_line_too_long(void **state)
{
	(void)state;
	char text[600];
	char path[400];
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	snprintf(text, sizeof(text), "[cluster a]\ndata = %s\n", path);
	expect_error(text, 2, "line too long", END);
}

static void test_indented_ok(void **state)
{
	(void)state;
	/* indentation is fine where it cannot continue a key: a section
	 * header after a header, or the first key of a section */
	struct sfs_config cfg;
	load_ok("mount.conf", "  [cluster a]\n  data = /a\n", &cfg);
	assert_string_equal(cfg.clusters[0].data, "/a");
	config_free(&cfg);
	/* a UTF-8 byte order mark is skipped */
	load_ok("mount.conf", "\xEF\xBB\xBF[cluster a]\ndata = /a\n", &cfg);
	assert_int_equal(cfg.nclusters, 1);
	config_free(&cfg);
}

static void test_too_many_clusters(void **state)
{
	(void)state;
	size_t cap = 65536;
	char *text = malloc(cap);
	assert_non_null(text);
	size_t n = 0;
	for (int i = 0; i <= SFS_MAX_CLUSTERS; i++)
		n += snprintf(text + n, cap - n, "[cluster c%d]\ndata = /d\n", i);
	expect_error(text, 2 * SFS_MAX_CLUSTERS + 1, "too many clusters", END);
	free(text);
}

/* The repository's own mount.conf parses: the seed's two local clusters. */
static void test_repo_mount_conf(void **state)
{
	(void)state;
	const char *src = getenv("STREAMFS_SRC");
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/mount.conf", src ? src : ".");
	if (access(path, R_OK) != 0)
		skip();
	struct sfs_config cfg;
	char err[512];
	int rc = config_load(path, &cfg, err, sizeof(err));
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	assert_string_equal(cfg.mountpoint, "/mapr");
	assert_null(cfg.log);
	assert_int_equal(cfg.nclusters, 2);
	const struct sfs_cluster_conf *sf = config_find_cluster(&cfg,
							       "sanfrancisco");
	const struct sfs_cluster_conf *ny = config_find_cluster(&cfg,
							       "newyork");
	assert_non_null(sf);
	assert_non_null(ny);
	assert_non_null(strstr(sf->data, "/data/sanfrancisco"));
	assert_non_null(strstr(ny->data, "/data/newyork"));
	assert_int_equal(sf->data[0], '/');
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_paths, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_relative_config_path,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unknown_section, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_cluster, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_key, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_access, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_and_gateway, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_neither, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_cluster, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_number, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_hostport, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gateway_credentials, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_nul_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_too_long, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_indented_ok, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_too_many_clusters, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_repo_mount_conf, setup,
						teardown),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
