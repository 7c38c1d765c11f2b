/*
 * lines.h - line assembly for open files, and the list of open files whose
 * unfinished last line waits for their release.
 *
 * A write(2) to a topic file carries any number of lines: each complete
 * line ('\n'-terminated, the '\n' not stored) becomes one message, and the
 * bytes after the last '\n' are held by the open file until a later write
 * (or the close) finishes them (docs/filesystem.md, "Writing"). A control
 * file is written the same way, its complete lines handed on as one text.
 * Held bytes count against the opener's share of a struct hold_budget.
 *
 * A message longer than max_message is refused whole, however the kernel
 * cuts the write(2) that carries it (docs/filesystem.md, "Over-long
 * messages"): the write fails with EMSGSIZE and stores nothing; every later
 * write is refused too, up to and including one with a '\n'; and the bytes
 * of a refused write, sent again by a writer that retries (dd, Python),
 * are recognised and dropped.
 *
 * Locking: a struct line_asm belongs to one open file and is used under
 * that file's lock (fh.mu, fs/openfile.h). struct pending_list has its own
 * mutex, taken before any open file's lock (see docs/architecture.md).
 */
#ifndef STREAMFS_LINES_H
#define STREAMFS_LINES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "holdbudget.h"

/* The bytes one open file holds between writes, and its refusal state. */
struct line_asm {
	char *buf;		/* bytes after the last '\n' written */
	size_t len, cap;	/* CAP is what BUDGET is charged */
	struct hold_budget *budget;	/* borrowed; may be NULL (no bound) */
	uid_t owner;		/* whose share of BUDGET */
	/* An over-long message was refused and the writer may send more of
	 * it: refuse every write up to and including one with a '\n'. */
	bool discarding;
	/* The bytes of the last refused write, from its start through the
	 * '\n' that ended its over-long message (RLEN bytes, XXH3 RHASH; 0:
	 * none), so that the writer sending them again is recognised. */
	size_t rlen;
	uint64_t rhash;
	/* The lines of the last write, reused by the next. */
	struct iovec *iov;
	size_t iovcap;
};

/*
 * lines_init - an empty assembly whose held bytes count against OWNER's
 * share of BUDGET (borrowed, may be NULL). lines_destroy - free it and
 * give its bytes back to the budget; held bytes are dropped.
 */
void lines_init(struct line_asm *la, struct hold_budget *budget, uid_t owner);
void lines_destroy(struct line_asm *la);

/*
 * lines_hold - room for NEED held bytes. Returns 0, -ENOBUFS (past the
 * owner's or the daemon's share of the budget: one log line naming WHAT,
 * the file) or -ENOMEM. Nothing changes on failure.
 */
int lines_hold(struct line_asm *la, const char *what, size_t need);

/*
 * lines_append_fn - store N messages (IOV[i], no '\n'), all or none, as
 * one run. ARG is the caller's. Returns 0 or a negative errno.
 */
typedef int (*lines_append_fn)(void *arg, const struct iovec *iov, size_t n);

/*
 * lines_write - one write(2) of BUF/SIZE bytes to a topic: with the bytes
 * held before, its complete lines are stored through APPEND (ARG) as one
 * run of messages of at most MAX bytes each; the bytes after its last '\n'
 * are held. The over-long rules above apply first. WHAT names the file in
 * log lines. Returns SIZE (never a short count), or a negative errno:
 * -EMSGSIZE (a message over MAX: nothing stored, nothing held), -ENOBUFS,
 * -ENOMEM, or APPEND's (nothing changed then: the write may be retried).
 */
int lines_write(struct line_asm *la, const char *what, const char *buf, size_t size, size_t max,
		lines_append_fn append, void *arg);

/*
 * lines_text_fn - complete lines TEXT/LEN (each ending in '\n'), one text.
 * Returns 0 or a negative errno.
 */
typedef int (*lines_text_fn)(void *arg, const char *text, size_t len);

/*
 * lines_collect - one write(2) of BUF/SIZE bytes to a control file: with
 * the bytes held before, its complete lines go to TEXT (ARG) as one text
 * and the bytes after its last '\n' are held. Returns SIZE, -E2BIG when
 * held bytes without a '\n' would pass MAX_LINE (nothing held), TEXT's
 * error (nothing changed), -ENOBUFS or -ENOMEM.
 */
int lines_collect(struct line_asm *la, const char *what, const char *buf, size_t size,
		  size_t max_line, lines_text_fn text, void *arg);

/*
 * lines_join - the N messages IOV[i] (no '\n') as the bytes of a topic
 * file: each followed by its '\n'. Returns a malloc'd buffer (the caller
 * frees it) of *LEN bytes, or NULL when out of memory.
 */
char *lines_join(const struct iovec *iov, size_t n, size_t *len);

/*
 * lines_drop - forget the held bytes (they were stored or refused), and
 * give a big buffer back to the budget.
 */
void lines_drop(struct line_asm *la);

/*
 * Open files whose unfinished last line waits after a flush. A shell that
 * runs `printf ab >&3` duplicates fd 3 and closes the duplicate, and each
 * close is a FLUSH: storing the partial line then would cut "ab" off from
 * the "c\n" of the next printf. So a flush only lists the file; the line
 * is stored at the release, or as soon as anyone looks at the topic (stat,
 * open, read), so `printf abc >> t; cat t` shows "abc" at once.
 *
 * An open file embeds a struct pending_line; KEY is its topic.
 *
 * A line that one reader is storing is still listed (marked storing) until
 * it is stored: another reader of the topic that comes meanwhile waits for
 * it, so whoever looks after a close() sees its line, also when the store
 * is a round trip (NATS, a remote daemon).
 */
struct pending_line {
	struct pending_line *next;	/* under the list's mu */
	bool listed;			/* under the list's mu */
	bool storing;			/* under the list's mu: a committer stores it */
	struct pending_line *taken;	/* a committer's own chain */
	const void *key;		/* the topic; set once at open */
	pthread_mutex_t *mu;		/* the open file's lock */
};

struct pending_list {
	/* Lock order: pending_list.mu, then fh.mu; and fh.mu, then
	 * pending_list.mu only for an entry marked storing, whose fh.mu no
	 * one takes under pending_list.mu (pending_commit). */
	pthread_mutex_t mu;
	pthread_cond_t stored;	/* an entry stopped storing (CLOCK_MONOTONIC) */
	struct pending_line *head;
	atomic_int count;	/* listed entries; read without mu */
};

/* pending_init / pending_destroy - an empty list / free its mutex. */
void pending_init(struct pending_list *pl);
void pending_destroy(struct pending_list *pl);

/* pending_add - list PN (once). pending_remove - unlist PN if listed. */
void pending_add(struct pending_list *pl, struct pending_line *pn);
void pending_remove(struct pending_list *pl, struct pending_line *pn);

/*
 * pending_commit - store every waiting line of KEY before the caller looks
 * at its topic: each listed entry of KEY is marked storing and its MU
 * locked (taken under the list's mu, so a release storing its own line
 * first is waited for), STORE(PN, ARG) is called with MU held, then the
 * entry is unlisted and MU unlocked. Then, if other callers were storing
 * entries of KEY, waits until they are done, in 100 ms slices, ending
 * early once INTERRUPTED() (may be NULL) says the caller's request was
 * interrupted. One atomic load when the list is empty.
 */
void pending_commit(struct pending_list *pl, const void *key,
		    void (*store)(struct pending_line *pn, void *arg), void *arg,
		    bool (*interrupted)(void));

#endif
