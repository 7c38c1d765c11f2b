/*
 * mount.c - finding the streamfs mount and the stream a maprcli path names
 * (mount.h). Owns mount discovery (/proc/mounts, -mount, STREAMFS_MOUNT)
 * and the translation between /mapr/<cluster>/<stream> and the real path.
 */
#include "mount.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/util/mountinfo.h"
#include "fs/names.h"

#define GLOBAL_PREFIX "/mapr"
#define FSTYPE "fuse.streamfs"

void mount_init(struct mount_ctx *m, const char *given)
{
	memset(m, 0, sizeof(*m));
	if (given) {
		m->given = given;
		m->given_by = "-mount";
	} else {
		const char *env = getenv("STREAMFS_MOUNT");
		if (env && *env) {
			m->given = env;
			m->given_by = "STREAMFS_MOUNT";
		}
	}
}

void mount_free(struct mount_ctx *m)
{
	for (int i = 0; i < m->nmounts; i++)
		free(m->mounts[i]);
	free(m->mounts);
	m->mounts = NULL;
	m->nmounts = 0;
	m->loaded = 0;
}

/* Keep MOUNTPOINT in the list of struct mount_ctx ARG if it is ours. */
static int keep_streamfs(const char *mountpoint, const char *fstype, void *arg)
{
	struct mount_ctx *m = arg;
	if (strcmp(fstype, FSTYPE))
		return 0;
	char **nm = realloc(m->mounts, (m->nmounts + 1) * sizeof(*nm));
	if (!nm)
		return -ENOMEM;
	m->mounts = nm;
	if (!(m->mounts[m->nmounts] = strdup(mountpoint)))
		return -ENOMEM;
	m->nmounts++;
	return 0;
}

/* Read the fuse.streamfs mountpoints. Returns 0 or -errno. */
static int load_mounts(struct mount_ctx *m, const char **file)
{
	const char *f = getenv("MAPRCLI_MOUNTS_FILE");
	if (!f || !*f)
		f = "/proc/mounts";
	*file = f;
	if (m->loaded)
		return m->loaded < 0 ? m->loaded : 0;
	int rc = mountinfo_foreach(f, keep_streamfs, m);
	m->loaded = rc < 0 ? rc : 1;
	return rc < 0 ? rc : 0;
}

static bool listed(const struct mount_ctx *m, const char *dir)
{
	for (int i = 0; i < m->nmounts; i++)
		if (!strcmp(m->mounts[i], dir))
			return true;
	return false;
}

/*
 * Lexically normalise PATH (relative to the working directory) into OUT:
 * absolute, no "." or "..", no doubled or trailing '/'. Returns 0 or
 * -ENAMETOOLONG (or the errno of getcwd).
 */
static int normalize(const char *path, char *out, size_t n)
{
	char buf[PATH_MAX * 2];
	if (path[0] == '/') {
		if (strlen(path) >= sizeof(buf))
			return -ENAMETOOLONG;
		strcpy(buf, path);
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", cwd, path) >= sizeof(buf))
			return -ENAMETOOLONG;
	}
	size_t len = 0;
	char *save = NULL;
	out[0] = '\0';
	for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			char *slash = strrchr(out, '/');
			if (slash) {
				*slash = '\0';
				len = (size_t)(slash - out);
			}
			continue;
		}
		size_t cl = strlen(c);
		if (len + 1 + cl + 1 > n)
			return -ENAMETOOLONG;
		out[len++] = '/';
		memcpy(out + len, c, cl + 1);
		len += cl;
	}
	if (len == 0) {
		if (n < 2)
			return -ENAMETOOLONG;
		strcpy(out, "/");
	}
	return 0;
}

/* If PATH is DIR or below it, the part after DIR ("" or "a/b"); else NULL. */
static const char *below(const char *path, const char *dir)
{
	size_t dl = strlen(dir);
	while (dl > 0 && dir[dl - 1] == '/')
		dl--;
	if (dl == 0)
		return NULL;	/* a mount at "/" is not one we take apart */
	if (strncmp(path, dir, dl) || (path[dl] != '/' && path[dl] != '\0'))
		return NULL;
	return path[dl] == '/' ? path + dl + 1 : path + dl;
}

/*
 * PATH with symbolic links resolved as far as it exists: realpath() of
 * its longest existing ancestor, followed by the rest. Returns 0 or -errno.
 */
static int resolve_links(const char *path, char *out, size_t n)
{
	char head[PATH_MAX];
	if (strlen(path) >= sizeof(head))
		return -ENAMETOOLONG;
	strcpy(head, path);
	for (;;) {
		char real[PATH_MAX];
		if (realpath(head, real)) {
			const char *tail = path + strlen(head);	/* "" or "/..." */
			if (!strcmp(real, "/") && *tail)
				real[0] = '\0';
			if ((size_t)snprintf(out, n, "%s%s", real, tail) >= n)
				return -ENAMETOOLONG;
			return 0;
		}
		char *slash = strrchr(head, '/');
		if (!slash || slash == head)
			return -ENOENT;
		*slash = '\0';
	}
}

/* The longest listed mountpoint that PATH lies under; *REL the rest. */
static const char *mount_of(const struct mount_ctx *m, const char *path,
			    const char **rel)
{
	const char *best = NULL;
	for (int i = 0; i < m->nmounts; i++) {
		const char *r = below(path, m->mounts[i]);
		if (r && (!best || strlen(m->mounts[i]) > strlen(best))) {
			best = m->mounts[i];
			*rel = r;
		}
	}
	return best;
}

/* "a, b, c" of the listed mounts, cut short to fit OUT. */
static void list_mounts(const struct mount_ctx *m, char *out, size_t n)
{
	size_t len = 0;
	out[0] = '\0';
	for (int i = 0; i < m->nmounts && len < n; i++) {
		int k = snprintf(out + len, n - len, "%s%s", i ? ", " : "", m->mounts[i]);
		if (k < 0)
			break;
		len += (size_t)k;
	}
}

/* Split REL ("cluster/stream") into OUT. Returns 0 or -EINVAL. */
static int split_stream(const char *opt, const char *path, const char *rel,
			struct stream_ref *out, char *err, size_t errlen)
{
	const char *slash = strchr(rel, '/');
	if (!*rel || !slash || strchr(slash + 1, '/') || !slash[1]) {
		snprintf(err, errlen, "%s %s is not a stream path (expected /mapr/<cluster>/<stream>)",
			 opt, path);
		return -EINVAL;
	}
	size_t cl = (size_t)(slash - rel);
	if (cl >= sizeof(out->cluster) || strlen(slash + 1) >= sizeof(out->stream)) {
		snprintf(err, errlen, "%s %s: a name is longer than 255 bytes", opt, path);
		return -EINVAL;
	}
	memcpy(out->cluster, rel, cl);
	out->cluster[cl] = '\0';
	strcpy(out->stream, slash + 1);
	if (!name_valid(out->cluster)) {
		snprintf(err, errlen, "%s %s: invalid cluster name '%s'", opt, path, out->cluster);
		return -EINVAL;
	}
	if (!name_valid(out->stream)) {
		snprintf(err, errlen, "%s %s: invalid stream name '%s' (names are 1-255 of A-Z a-z 0-9 . _ -, not starting with '.')",
			 opt, path, out->stream);
		return -EINVAL;
	}
	return 0;
}

int mount_stream(struct mount_ctx *m, const char *opt, const char *path,
		 struct stream_ref *out, char *err, size_t errlen)
{
	char norm[PATH_MAX], linked[PATH_MAX];
	const char *file;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = normalize(path, norm, sizeof(norm))) < 0) {
		snprintf(err, errlen, "%s %s: %s", opt, path, strerror(-rc));
		return -EINVAL;
	}
	if ((rc = load_mounts(m, &file)) < 0) {
		snprintf(err, errlen, "cannot read %s: %s", file, strerror(-rc));
		return -ENODEV;
	}
	bool have_linked = resolve_links(norm, linked, sizeof(linked)) == 0;
	const char *rel = NULL, *mp = NULL;
	char given[PATH_MAX];

	if (m->given) {
		if (!realpath(m->given, given)) {
			snprintf(err, errlen, "%s %s: %s", m->given_by, m->given, strerror(errno));
			return -ENODEV;
		}
		if (!listed(m, given)) {
			snprintf(err, errlen, "%s %s is not a streamfs mount (no %s entry for it in %s)",
				 m->given_by, m->given, FSTYPE, file);
			return -ENODEV;
		}
		mp = given;
		if (!(rel = below(norm, mp)) && !(rel = below(norm, GLOBAL_PREFIX)) &&
		    !(have_linked && (rel = below(linked, mp)))) {
			snprintf(err, errlen, "%s %s is outside the streamfs mount %s (write /mapr/<cluster>/<stream> or %s/<cluster>/<stream>)",
				 opt, path, mp, mp);
			return -EINVAL;
		}
	} else {
		mp = mount_of(m, norm, &rel);
		if (!mp && have_linked)
			mp = mount_of(m, linked, &rel);
		if (!mp && (rel = below(norm, GLOBAL_PREFIX))) {
			char names[1024];
			list_mounts(m, names, sizeof(names));
			if (m->nmounts == 1) {
				mp = m->mounts[0];
			} else if (m->nmounts == 0) {
				snprintf(err, errlen, "no streamfs filesystem is mounted (no %s entry in %s): mount one, or name its mountpoint with -mount DIR or STREAMFS_MOUNT",
					 FSTYPE, file);
				return -ENODEV;
			} else {
				snprintf(err, errlen, "%d streamfs filesystems are mounted (%s) and none at /mapr: choose one with -mount DIR or STREAMFS_MOUNT",
					 m->nmounts, names);
				return -ENODEV;
			}
		}
		if (!mp) {
			snprintf(err, errlen, "%s %s is outside any streamfs mount (write /mapr/<cluster>/<stream>, or a path under the mountpoint)",
				 opt, path);
			return -EINVAL;
		}
	}
	if ((rc = split_stream(opt, path, rel, out, err, errlen)) < 0)
		return rc;
	if ((size_t)snprintf(out->mount, sizeof(out->mount), "%s", mp) >= sizeof(out->mount) ||
	    (size_t)snprintf(out->dir, sizeof(out->dir), "%s/%s/%s", mp, out->cluster,
			     out->stream) >= sizeof(out->dir)) {
		snprintf(err, errlen, "%s %s: %s", opt, path, strerror(ENAMETOOLONG));
		return -EINVAL;
	}
	snprintf(out->global, sizeof(out->global), GLOBAL_PREFIX "/%s/%s", out->cluster,
		 out->stream);
	return 0;
}

int mount_check_stream(const struct stream_ref *s, char *err, size_t errlen)
{
	char cdir[PATH_MAX + 300];
	struct stat st;
	snprintf(cdir, sizeof(cdir), "%s/%s", s->mount, s->cluster);
	if (stat(cdir, &st) < 0) {
		int e = errno;
		if (e == ENOENT)
			snprintf(err, errlen, "cluster '%s' does not exist (it is not served by the streamfs mount %s)",
				 s->cluster, s->mount);
		else
			snprintf(err, errlen, "cannot access %s: %s", cdir, strerror(e));
		return -e;
	}
	if (stat(s->dir, &st) < 0) {
		int e = errno;
		if (e == ENOENT)
			snprintf(err, errlen, "stream %s does not exist", s->global);
		else
			snprintf(err, errlen, "cannot access stream %s (%s): %s", s->global,
				 s->dir, strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a stream", s->global);
		return -ENOTDIR;
	}
	return 0;
}
