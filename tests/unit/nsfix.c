/*
 * nsfix.c - a real namespace for a unit test (nsfix.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nsfix.h"

#include <stdio.h>

#include "scratch.h"
#include "fs/local/localhome.h"

int nsfix_open(struct nsfix *f, const char *name, bool with_remote)
{
	if (scratch_make(name, f->dir, sizeof(f->dir), NULL) < 0)
		return -1;
	char path[600], err[512];
	snprintf(path, sizeof(path), "%s/mount.conf", f->dir);
	FILE *c = fopen(path, "w");
	if (!c)
		return -1;
	fprintf(c, "[mount]\nmountpoint = /mapr\n[cluster sanfrancisco]\ndata = %s/sf\n"
		   "[cluster newyork]\ndata = %s/ny\n", f->dir, f->dir);
	if (with_remote)
		/* The key files are never read: no TLS is set up by unit tests. */
		fprintf(c, "[cluster london]\ngateway = 198.18.0.2:5660\n"
			   "[gateway]\ncert = %s/c.pem\nkey = %s/k.pem\nca = %s/ca.pem\n",
			f->dir, f->dir, f->dir);
	fclose(c);
	if (config_load(path, &f->cfg, err, sizeof(err)) < 0) {
		print_error("config_load: %s\n", err);
		return -1;
	}
	static const struct cluster_home *const homes[] = { &local_home };
	if (ns_open(&f->ns, &f->cfg, homes, 1, NULL, NULL, err, sizeof(err)) < 0) {
		print_error("ns_open: %s\n", err);
		return -1;
	}
	return 0;
}

int nsfix_close(struct nsfix *f)
{
	ns_close(&f->ns);
	config_free(&f->cfg);
	return scratch_remove(f->dir, NULL);
}
