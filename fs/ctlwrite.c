/*
 * ctlwrite.c - owns the control files' write path (ctlwrite.h): line
 * parsing as writes arrive, the '>' transaction and its bounds.
 */
#include "ctlwrite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum ctl_kind kind_of(const struct ctl_txn *x)
{
	return x->which == CTLFILE_REPLICAS ? CTL_REPLICAS : CTL_UPSTREAMS;
}

static const char *file_of(const struct ctl_txn *x)
{
	return x->which == CTLFILE_REPLICAS ? ".replicas" : ".upstreams";
}

void ctl_txn_init(struct ctl_txn *x, struct sfs_namespace *ns, struct stream *s,
		  const char *mountpoint, enum ctlfile which, bool truncating,
		  struct hold_budget *budget, uid_t owner)
{
	memset(x, 0, sizeof(*x));
	x->ns = ns;
	x->stream = s;
	x->mountpoint = mountpoint;
	x->which = which;
	x->truncating = truncating;
	x->budget = budget;
	x->owner = owner;
}

void ctl_txn_destroy(struct ctl_txn *x)
{
	if (x->budget && x->charged)
		hold_release(x->budget, x->owner, x->charged);
	x->charged = 0;
	free(x->acc);
	x->acc = NULL;
	x->nacc = 0;
}

/*
 * Complete control lines BUF/LEN: applied at once, or, for a '>' write,
 * checked together with every entry written so far and kept for the
 * replace at close. Each line is parsed once (line numbers in errors count
 * from the first line of the file).
 */
static int ctl_lines(void *arg, const char *buf, size_t len)
{
	struct ctl_txn *x = arg;
	enum ctl_kind kind = kind_of(x);
	const char *file = file_of(x);
	char err[512];
	struct ctl_entry *e = NULL;
	if (x->truncating && x->acc_bytes + len > CTL_REPLACE_MAX_BYTES) {
		stream_refuse(x->stream, "%s: a '>' write of more than %u bytes", file,
			      CTL_REPLACE_MAX_BYTES);
		return -EFBIG;
	}
	int n = ctl_parse(buf, len, kind, x->mountpoint, &e, err, sizeof(err));
	if (n < 0) {
		if (x->truncating && x->acc_lines) {
			/* ctl_parse counts from this write's first line. */
			int line = 0, k = 0;
			char fixed[sizeof(err)];
			if (sscanf(err, "line %d:%n", &line, &k) == 1 && k > 0) {
				snprintf(fixed, sizeof(fixed), "line %d:%s", line + x->acc_lines,
					 err + k);
				memcpy(err, fixed, sizeof(err));
			}
		}
		stream_refuse(x->stream, "%s: %s", file, err);
		return n;
	}
	if (!x->truncating) {
		int rc = ctlfile_apply(x->ns, x->stream, kind, e, n, false, false);
		free(e);
		return rc;
	}
	if (x->nacc + n > CTL_REPLACE_MAX_ENTRIES) {
		free(e);
		stream_refuse(x->stream, "%s: a '>' write of more than %d lines naming streams", file,
			      CTL_REPLACE_MAX_ENTRIES);
		return -EFBIG;
	}
	size_t need = (size_t)(x->nacc + n + 1) * sizeof(struct ctl_entry);
	if (x->budget && need > x->charged) {
		int hrc = hold_charge(x->budget, x->owner, need - x->charged);
		if (hrc < 0) {
			free(e);
			if (hrc == -ENOBUFS)
				stream_refuse(x->stream, "%s: a '>' write would hold more than user %u may hold between writes (%llu bytes in all open files)",
					      file, (unsigned)x->owner,
					      (unsigned long long)x->budget->max_user);
			return hrc;
		}
		x->charged = need;
	}
	struct ctl_entry *all = realloc(x->acc, need);
	if (!all) {
		free(e);
		return -ENOMEM;
	}
	x->acc = all;
	for (int i = 0; i < n; i++) {
		e[i].line += x->acc_lines;
		all[x->nacc + i] = e[i];
	}
	free(e);
	int rc = ctlfile_apply(x->ns, x->stream, kind, all, x->nacc + n, true, true);
	if (rc < 0)
		return rc;
	x->nacc += n;
	x->acc_bytes += len;
	for (size_t i = 0; i < len; i++)
		x->acc_lines += buf[i] == '\n';
	x->wrote = true;
	return 0;
}

int ctl_write(struct ctl_txn *x, struct line_asm *la, const char *buf, size_t size)
{
	if (x->which == CTLFILE_INFO)
		return -EACCES;
	int rc = lines_collect(la, file_of(x), buf, size, CTL_MAX_LINE, ctl_lines, x);
	if (rc == -E2BIG) {
		stream_refuse(x->stream, "%s: a line longer than 64 KiB", file_of(x));
		rc = -EINVAL;
	}
	/*
	 * Any refused write also cancels a pending replace ('>'), and drops
	 * the bytes held before it: they began the line it was refused with,
	 * so no piece of that line may apply at the close. But for a signal
	 * (-EINTR): nothing was refused, and the caller writes the same
	 * bytes again, which complete the line held.
	 */
	if (rc < 0)
		x->refused = true;
	if (rc < 0 && rc != -EINTR)
		lines_drop(la);
	return rc;
}

int ctl_finish(struct ctl_txn *x, struct line_asm *la, bool final)
{
	int rc = 0;
	if (la->len) {
		rc = ctl_lines(x, la->buf, la->len);
		if (rc < 0)
			x->refused = true;
		lines_drop(la);
	}
	/*
	 * A shell's "> file" closes a duplicate of the descriptor before any
	 * write; replacing then would empty the set, so the replace waits for
	 * a write, or for the release when nothing was written at all.
	 * A refused write cancels the replace: "> file" then changes nothing.
	 */
	if (x->truncating && rc == 0 && !x->refused && (x->wrote || (final && !x->applied))) {
		rc = ctlfile_apply(x->ns, x->stream, kind_of(x), x->acc, x->nacc, true, false);
		x->wrote = false;
		x->applied = true;
	}
	return rc;
}
