/*
 * fuzz_config.c - libFuzzer target: config_load (fs/config.c, over inih) on
 * the input written to a file, mount.conf in a mkdtemp directory.
 *
 * The input is the whole file, so seeds are plain mount.conf files. The
 * error buffer size is taken from the input length: 512, 7 or 0 bytes for
 * a length of 0, 1 or 2 modulo 3.
 *
 * Checked beyond "no crash, leak or hang": success yields what config.h
 * promises (1-64 clusters with valid, distinct names, each with exactly one
 * of data/gateway, absolute paths, values within their ranges); an error is
 * a negative errno with *cfg left zeroed and a one-line message.
 */
#include "fuzz_common.h"

#include "config.h"
#include "names.h"

static char conf_path[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(conf_path, sizeof(conf_path), "%s/mount.conf", fuzz_scratch());
	return 0;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_write_at(AT_FDCWD, conf_path, data, size);

	static const size_t errlens[3] = { 512, 7, 0 };
	size_t errlen = errlens[size % 3];
	char *err = errlen ? malloc(errlen) : NULL;
	if (errlen) {
		FUZZ_CHECK(err);
		memset(err, 'X', errlen);
	}
	struct sfs_config cfg;
	memset(&cfg, 0xa5, sizeof(cfg));
	int rc = config_load(conf_path, &cfg, err, errlen);

	if (rc == 0) {
		FUZZ_CHECK(cfg.path && strcmp(cfg.path, conf_path) == 0);
		FUZZ_CHECK(cfg.nclusters >= 1 && cfg.nclusters <= SFS_MAX_CLUSTERS);
		for (int i = 0; i < cfg.nclusters; i++) {
			const struct sfs_cluster_conf *c = &cfg.clusters[i];
			FUZZ_CHECK(c->name && name_valid(c->name));
			FUZZ_CHECK(!c->data != !c->gateway);
			FUZZ_CHECK(!c->data || c->data[0] == '/');
			FUZZ_CHECK(config_find_cluster(&cfg, c->name) == c);
		}
		FUZZ_CHECK(!cfg.mountpoint || cfg.mountpoint[0] == '/');
		FUZZ_CHECK(!cfg.log || cfg.log[0] == '/');
		FUZZ_CHECK(!cfg.gateway_cert || cfg.gateway_cert[0] == '/');
		FUZZ_CHECK(!cfg.gateway_key || cfg.gateway_key[0] == '/');
		FUZZ_CHECK(!cfg.gateway_ca || cfg.gateway_ca[0] == '/');
		FUZZ_CHECK(cfg.max_message >= 1 && cfg.max_message <= 64u << 20);
		FUZZ_CHECK(cfg.segment_bytes >= 4096 &&
			   cfg.segment_bytes <= (1ull << 40));
		FUZZ_CHECK(cfg.fsync == SFS_FSYNC_OS ||
			   cfg.fsync == SFS_FSYNC_INTERVAL ||
			   cfg.fsync == SFS_FSYNC_ALWAYS);
		FUZZ_CHECK(cfg.fsync_interval_ms >= 1 &&
			   cfg.fsync_interval_ms <= 86400000);
		FUZZ_CHECK(cfg.sync_timeout_ms >= 1 && cfg.sync_timeout_ms <= 3600000);
		FUZZ_CHECK(cfg.batch_messages >= 1 && cfg.batch_messages <= 1048576);
		FUZZ_CHECK(!config_find_cluster(&cfg, ".no such cluster"));
		config_free(&cfg);
		FUZZ_CHECK(all_zero(&cfg, sizeof(cfg)));
	} else {
		FUZZ_CHECK(rc < 0);
		/* Nothing allocated and nothing left behind. */
		FUZZ_CHECK(all_zero(&cfg, sizeof(cfg)));
		if (errlen) {
			FUZZ_CHECK(memchr(err, '\0', errlen));
			FUZZ_CHECK(!strchr(err, '\n'));
			FUZZ_CHECK(errlen < 2 || err[0] != '\0');
		}
	}
	free(err);
	return 0;
}
