/*
 * ctlwrite.h - the write path of a stream's control files (.replicas,
 * .upstreams; docs/control-files.md, "Writing"): what one open file's
 * writes and its close do. `echo LINE >> .replicas` applies each complete
 * line as it arrives; `> .replicas` (O_TRUNC) is a transaction that checks
 * every line together with those before it, parses each line once, is
 * bounded in bytes and lines, and replaces the whole set at the close -
 * or changes nothing if any write was refused.
 *
 * A struct ctl_txn belongs to one open file and is used under its lock
 * (fh.mu, fs/openfile.h).
 */
#ifndef STREAMFS_CTLWRITE_H
#define STREAMFS_CTLWRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "control.h"
#include "ctlfiles.h"
#include "lines.h"

/* What a '>' (O_TRUNC) write of a control file may hold in all: the set it
 * replaces has at most 64 entries, so this is room for comments and
 * repeats, and a bound on what the transaction holds. */
#define CTL_REPLACE_MAX_BYTES (1u << 20)
#define CTL_REPLACE_MAX_ENTRIES 4096
/* The longest control line held between writes, bytes. */
#define CTL_MAX_LINE 65536

/* One open control file's writes. */
struct ctl_txn {
	struct sfs_namespace *ns;	/* borrowed */
	struct stream *stream;		/* borrowed from the open file */
	const char *mountpoint;		/* borrowed; for paths in lines */
	enum ctlfile which;
	/* Opened with O_TRUNC: every complete line written so far is kept
	 * (ACC, NACC entries, ACC_BYTES bytes, ACC_LINES lines), each parsed
	 * once, for the replace at close. */
	bool truncating;
	bool wrote, applied;
	bool refused;		/* a write was refused: the replace is off */
	struct ctl_entry *acc;
	int nacc;
	/* ACC's bytes are counted against OWNER's share of BUDGET (borrowed,
	 * may be NULL), as held lines are: CHARGED bytes now. */
	struct hold_budget *budget;
	uid_t owner;
	size_t charged;
	size_t acc_bytes;
	int acc_lines;
};

/*
 * ctl_txn_init - the writes of a file WHICH of stream S opened now
 * (TRUNCATING: with O_TRUNC for writing) by OWNER, whose share of BUDGET
 * (may be NULL) counts what a '>' transaction holds. ctl_txn_destroy -
 * free it and give its bytes back.
 */
void ctl_txn_init(struct ctl_txn *x, struct sfs_namespace *ns, struct stream *s,
		  const char *mountpoint, enum ctlfile which, bool truncating,
		  struct hold_budget *budget, uid_t owner);
void ctl_txn_destroy(struct ctl_txn *x);

/*
 * ctl_write - one write(2) of BUF/SIZE bytes, its lines assembled in LA.
 * Returns SIZE or a negative errno: -EACCES (.info), -EINVAL (a bad line,
 * or one longer than CTL_MAX_LINE), -EFBIG (a '>' write past its bounds),
 * -ENOBUFS (a '>' write past the owner's share of the budget),
 * ctlfile_apply's errors, -ENOBUFS, -ENOMEM. A refusal also cancels a
 * pending replace and drops the bytes LA held (nothing of a refused line
 * applies at the close), but for -EINTR (the same bytes come again).
 * The stream's last error and one log line say why.
 */
int ctl_write(struct ctl_txn *x, struct line_asm *la, const char *buf, size_t size);

/*
 * ctl_finish - a close (FINAL: the release, after which nothing more can
 * come): a last line without '\n' is handled, and a '>' write replaces
 * the set - at the first flush after a write, or at the release when
 * nothing was written at all. Returns 0 or a negative errno (as
 * ctl_write's).
 */
int ctl_finish(struct ctl_txn *x, struct line_asm *la, bool final);

#endif
