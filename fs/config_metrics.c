/*
 * config_metrics.c - the [metrics] section of mount.conf (config_metrics.h).
 */
#include "config_metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util/hostport.h"

int config_metrics_key(struct sfs_config *cfg, const char *name, const char *value, char *msg,
		       size_t n)
{
	if (strcmp(name, "listen") != 0) {
		snprintf(msg, n, "[metrics]: unknown key '%s' (known: listen)", name);
		return -EINVAL;
	}
	if (cfg->metrics_listen) {
		snprintf(msg, n, "[metrics]: 'listen' already set");
		return -EINVAL;
	}
	if (hostport_split(value, NULL, 0, NULL, 0) < 0) {
		snprintf(msg, n, "[metrics]: bad value '%s' for 'listen' (expected ADDR:PORT, "
			 "port 1-65535, e.g. 127.0.0.1:9565)", value);
		return -EINVAL;
	}
	cfg->metrics_listen = strdup(value);
	if (!cfg->metrics_listen) {
		snprintf(msg, n, "out of memory");
		return -ENOMEM;
	}
	return 0;
}
