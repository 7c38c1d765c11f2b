/*
 * mountinfo.c - owns the reading of the kernel's mount table and the
 * decoding of its paths (mountinfo.h).
 */
#include "mountinfo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mountinfo_unescape(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' &&
		    p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

int mountinfo_foreach(const char *file, int (*fn)(const char *mountpoint, const char *fstype,
						  void *arg),
		      void *arg)
{
	FILE *fp = fopen(file ? file : "/proc/self/mounts", "re");
	if (!fp)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;
	errno = 0;
	/* device mountpoint fstype options dump pass; fields never hold blanks. */
	while (rc == 0 && getline(&line, &cap, fp) > 0) {
		char *save = NULL;
		char *dev = strtok_r(line, " \t\n", &save);
		char *mp = dev ? strtok_r(NULL, " \t\n", &save) : NULL;
		char *type = mp ? strtok_r(NULL, " \t\n", &save) : NULL;
		if (!type)
			continue;
		mountinfo_unescape(mp);
		mountinfo_unescape(type);
		rc = fn(mp, type, arg);
	}
	if (rc == 0 && errno == ENOMEM)
		rc = -ENOMEM;
	free(line);
	fclose(fp);
	return rc;
}

static int same_path(const char *mountpoint, const char *fstype, void *arg)
{
	(void)fstype;
	return strcmp(mountpoint, arg) == 0;
}

int mountinfo_is_mountpoint(const char *path)
{
	return mountinfo_foreach(NULL, same_path, (void *)path);
}
