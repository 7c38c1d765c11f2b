/*
 * openfile.h - the state of one open file of the mount (fi->fh): a topic
 * opened for reading and appending, or a control file. One struct per kind,
 * each beginning with the common struct fh, so a handler looks at f->kind
 * and then at the struct of that kind (topic_fh_of, ctl_fh_of).
 *
 * Locking: fh.mu serialises the requests on one open file (its held line,
 * its read hint, its control-file transaction); taken after
 * pending_list.mu and before any stream or topic lock (docs/architecture.md).
 */
#ifndef STREAMFS_OPENFILE_H
#define STREAMFS_OPENFILE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cluster.h"
#include "ctlwrite.h"
#include "fsreq.h"
#include "lines.h"
#include "stream.h"
#include "topic.h"

/* FH_ROOTINFO: the mount's /.info (a struct ctl_fh of no stream: only
 * its text, no transaction). FH_REMOTE: a topic or control file of a
 * cluster another daemon serves (struct remote_fh). */
enum fh_kind { FH_TOPIC, FH_CTL, FH_ROOTINFO, FH_REMOTE };

struct fh {
	enum fh_kind kind;
	pthread_mutex_t mu;	/* everything below and in the kind's struct */
	struct stream *stream;	/* a reference; NULL for FH_ROOTINFO */
	/* "/<cluster>/<stream>/<name>" of what it has open, for log lines
	 * (made once at open: libfuse passes no path with nullpath_ok). */
	char *name;
	/* What the file holds for its reader (a control file's text, a
	 * topic's read-ahead) is counted against the opener's share of this
	 * (borrowed, may be NULL). */
	struct hold_budget *reading;
	/* Bytes after the last '\n' written, counted against the budget of
	 * the user who opened the file. */
	struct line_asm lines;
};

/* An open topic. */
struct topic_fh {
	struct fh h;
	struct topic *topic;	/* a reference; counted in topic->open_files */
	struct topic_read_hint hint;	/* where the last read stopped */
	size_t hint_charged;	/* of its read-ahead, counted in READING */
	/* On the daemon's pending list while its last line waits (see
	 * fs/lines.h); KEY is TOPIC, MU is h.mu. */
	struct pending_line pending;
};

/* An open control file. */
struct ctl_fh {
	struct fh h;
	struct ctl_txn txn;	/* its writes */
	/* What a reader sees: rendered at open (malloc'd, SNAPLEN bytes),
	 * counted in READING. */
	char *snap;
	size_t snaplen;
};

/*
 * An open topic or control file of a cluster another daemon serves (the
 * global namespace, fs/fuse_remote.c). Every request it makes carries the
 * opener's identity (WHO), as NFS writes with the opener's credentials:
 * the kernel checked the open against it.
 */
struct remote_fh {
	struct fh h;			/* h.stream is NULL */
	struct cluster *cl;		/* borrowed: the namespace outlives it */
	char stream[256], file[256];
	bool ctl;			/* a control file */
	struct fs_caller who;
	/* A topic: the incarnation it opened (fs/fsreq.h, expect): its
	 * reads and stats find it gone rather than read another topic made
	 * under the same name since. */
	uuid_t incarnation;
	/* A control file: the lines of a replace ("> file", O_TRUNC:
	 * REPLACING) written so far, or of an add not sent yet (TEXT, LEN
	 * bytes, counted in the opener's share of h.lines' budget); whether
	 * a replace was sent (REPLACED), and whether a write was refused,
	 * which cancels what the release would still send (REFUSED). */
	char *text;
	size_t textlen, textcap;
	bool replacing, replaced, refused;
	/* A control file opened for reading: its text as the serving daemon
	 * rendered it at the open (SNAP, SNAPLEN bytes, counted in the
	 * opener's share of the daemon's reading budget), so that reads in
	 * pieces never mix two renderings, as a local control file's. */
	char *snap;
	size_t snaplen;
	struct hold_budget *reading;
	/* A topic: bytes a read brought beyond what it was asked for (RA,
	 * RA_LEN bytes from byte RA_OFF; RA_CAP counted in the opener's
	 * share of READING), for the next reads (fs/fuse_remote.c). */
	uint8_t *ra;
	size_t ra_len, ra_cap;
	uint64_t ra_off;
	/* A topic: its last line without '\n' waits on the daemon's pending
	 * list after a flush, as a local topic's does (fs/lines.h), under a
	 * key of the remote topic's own (an odd value, never a topic's
	 * address). */
	struct pending_line pending;
	/* What the last stat or read saw, for a reader at the end while the
	 * serving daemon cannot be reached (docs/global-namespace.md,
	 * "Failures"). */
	bool known;
	struct fs_attr attr;
	uint64_t seen_end;
	/* On the daemon's list of open remote topics (sfs_daemon.remote_open,
	 * under its remote_mu): a stat of this path, which the kernel sends
	 * without the open file (fstat included), finds what it saw. */
	struct remote_fh *next_open;
	bool listed;
};

static inline struct topic_fh *topic_fh_of(struct fh *f)
{
	return (struct topic_fh *)f;
}

static inline struct ctl_fh *ctl_fh_of(struct fh *f)
{
	return (struct ctl_fh *)f;
}

static inline struct remote_fh *remote_fh_of(struct fh *f)
{
	return (struct remote_fh *)f;
}

/*
 * remote_fh_new - an open file FILE of stream STREAM of remote cluster CL
 * (a control file if CTL), opened by WHO (copied), whose held bytes count
 * against WHO's share of BUDGET (borrowed). Free with fh_free. NULL when
 * out of memory.
 */
struct remote_fh *remote_fh_new(struct cluster *cl, const char *stream, const char *file,
				bool ctl, const struct fs_caller *who, struct hold_budget *budget);

/*
 * topic_fh_new - an open file of topic T of stream S (both get a new
 * reference; T's open_files counts it) for user OWNER, whose held bytes
 * count against BUDGET and what is held for reading against READING (both
 * borrowed). ctl_fh_new - an open control file WHICH of S; TRUNCATING as
 * ctl_txn_init. Free either with fh_free. NULL when out of memory.
 */
struct topic_fh *topic_fh_new(struct stream *s, struct topic *t, uid_t owner,
			      struct hold_budget *budget, struct hold_budget *reading);
struct ctl_fh *ctl_fh_new(struct sfs_namespace *ns, struct stream *s, const char *mountpoint,
			  enum ctlfile which, bool truncating, uid_t owner,
			  struct hold_budget *budget, struct hold_budget *reading);

/*
 * rootinfo_fh_new - an open /.info for user OWNER (its text is given with
 * ctl_fh_keep_text, counted against READING, borrowed). Free with
 * fh_free. NULL when out of memory.
 */
struct ctl_fh *rootinfo_fh_new(uid_t owner, struct hold_budget *reading);

/*
 * ctl_fh_keep_text - give CF the text TEXT (LEN bytes, malloc'd, taken
 * over) that its reader sees, counted against the opener's share of
 * READING. Returns 0 or -ENOBUFS (past the share: TEXT is freed).
 */
int ctl_fh_keep_text(struct ctl_fh *cf, char *text, size_t len);

/*
 * topic_fh_count_readahead - after a read through TF (h.mu held): count
 * the read-ahead its hint keeps now against the opener's share of READING;
 * past the share the read-ahead is let go (reads go on without it).
 */
void topic_fh_count_readahead(struct topic_fh *tf);

/*
 * fh_free - close F: drops its references, gives its held bytes back, and
 * for the last open file of a topic removed while open, forgets the
 * topic's hidden name (fs/fuse_ops.c, sfs_rename). F must be off the
 * pending list. NULL is ignored.
 */
void fh_free(struct fh *f);

/*
 * fh_path - "/<cluster>/<stream>/<name>" of what F has open, for log lines:
 * libfuse passes no path to the handlers of an open file (nullpath_ok).
 * Owned by F.
 */
static inline const char *fh_path(const struct fh *f)
{
	return f->name;
}

#endif
