/*
 * lines.c - owns line assembly and the pending list (lines.h): how the
 * bytes of write(2) calls become messages and control lines, the bounds on
 * what is held between writes, and the refusal of over-long messages.
 */
#define _GNU_SOURCE	/* memrchr */
#include "lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "logging.h"
#include "util/lockcheck.h"

/* A held buffer bigger than this is given back once it holds nothing. */
#define LINES_KEEP_CAP 65536
/* A line array longer than this (entries) is not kept for the next write:
 * a write of 1 MiB of empty lines needs 16 MiB of it, which an open file
 * must not hold between writes (docs/security.md, "Bounds"). */
#define LINES_KEEP_IOV 4096

void lines_init(struct line_asm *la, struct hold_budget *budget, uid_t owner)
{
	memset(la, 0, sizeof(*la));
	la->budget = budget;
	la->owner = owner;
}

void lines_destroy(struct line_asm *la)
{
	if (la->budget && la->cap)
		hold_release(la->budget, la->owner, la->cap);
	free(la->buf);
	free(la->iov);
	memset(la, 0, sizeof(*la));
}

int lines_hold(struct line_asm *la, const char *what, size_t need)
{
	if (need <= la->cap)
		return 0;
	size_t c = la->cap ? la->cap : 256;
	while (c < need)
		c *= 2;
	if (la->budget) {
		int rc = hold_charge(la->budget, la->owner, c - la->cap);
		if (rc == -ENOBUFS) {
			log_warn("write %s: refused: unfinished lines of user %u in all open files would pass %llu bytes (the daemon's: %llu); finish lines with a newline",
				 what ? what : "?", (unsigned)la->owner,
				 (unsigned long long)la->budget->max_user,
				 (unsigned long long)la->budget->max_total);
			return rc;
		}
		if (rc < 0)
			return rc;
	}
	char *b = realloc(la->buf, c);
	if (!b) {
		if (la->budget)
			hold_release(la->budget, la->owner, c - la->cap);
		return -ENOMEM;
	}
	la->buf = b;
	la->cap = c;
	return 0;
}

void lines_drop(struct line_asm *la)
{
	la->len = 0;
	if (la->cap <= LINES_KEEP_CAP)
		return;
	if (la->budget)
		hold_release(la->budget, la->owner, la->cap);
	free(la->buf);
	la->buf = NULL;
	la->cap = 0;
}

/* Hold BUF/SIZE after what is held; room was made (lines_hold). */
static void hold_bytes(struct line_asm *la, const char *buf, size_t size)
{
	if (!size)
		return;	/* la->buf may be NULL */
	memcpy(la->buf + la->len, buf, size);
	la->len += size;
}

/*
 * Refuse a write that holds (part of) a message longer than MAX (LEN bytes
 * so far). Nothing of the write is stored, nor the held line, which could
 * only ever be stored cut short. When the message goes on past this write
 * (UNFINISHED), later writes are refused too, up to and including one with
 * a '\n'. When the message began this write (or continued held bytes) and
 * ended in it, THROUGH is the length of BUF up to and including its '\n':
 * those bytes are remembered (refused_again).
 */
static int refuse_long(struct line_asm *la, const char *what, size_t len, size_t max,
		       bool unfinished, const char *buf, size_t through)
{
	log_warn("write %s: refused: a message of %s%zu bytes is longer than max_message (%zu bytes)",
		 what, unfinished ? "at least " : "", len, max);
	la->discarding = unfinished;
	la->rlen = through;
	la->rhash = through ? XXH3_64bits(buf, through) : 0;
	la->len = 0;
	return -EMSGSIZE;
}

/*
 * Does BUF/SIZE begin with the bytes of the last refused write (la->rlen)?
 * A writer sends refused bytes again: when a write() over max_write (1
 * MiB) comes in pieces and a later piece is refused, the writer gets the
 * count of the pieces before it and sends the rest again (dd, Python);
 * Python's buffered files also keep bytes a failed write() refused and
 * send them with the next. Those bytes are the tail of a refused message,
 * and must neither become a message nor take a new one with them.
 */
static bool refused_again(const struct line_asm *la, const char *buf, size_t size)
{
	return la->rlen && size >= la->rlen && XXH3_64bits(buf, la->rlen) == la->rhash;
}

/* The lines of a write: complete ones appended, the rest held. */
static int write_lines(struct line_asm *la, const char *what, const char *buf, size_t size,
		       size_t max, lines_append_fn append, void *arg)
{
	const char *last = memrchr(buf, '\n', size);
	if (!last) {
		if (la->len + size > max)
			return refuse_long(la, what, la->len + size, max, true, NULL, 0);
		int rc = lines_hold(la, what, la->len + size);
		if (rc < 0)
			return rc;
		hold_bytes(la, buf, size);
		return (int)size;
	}
	size_t rest = buf + size - (last + 1);
	if (rest > max)
		return refuse_long(la, what, rest, max, true, NULL, 0);
	/* One pass over the data: each line becomes an iovec of the array,
	 * which is kept for the next write. */
	char *first = NULL;
	int rc = 0;
	size_t nlines = 0;
	const char *p = buf;
	for (size_t i = 0; p <= last; i++) {
		if (i == la->iovcap) {
			size_t cap = la->iovcap ? la->iovcap * 2 : 64;
			struct iovec *v = realloc(la->iov, cap * sizeof(*v));
			if (!v) {
				rc = -ENOMEM;
				goto out;
			}
			la->iov = v;
			la->iovcap = cap;
		}
		struct iovec *iov = la->iov;
		const char *nl = memchr(p, '\n', last + 1 - p);
		size_t len = nl - p;
		nlines++;
		iov[i].iov_base = (void *)p;
		iov[i].iov_len = len;
		if (i == 0 && la->len) {
			first = malloc(la->len + len + 1);
			if (!first) {
				rc = -ENOMEM;
				goto out;
			}
			memcpy(first, la->buf, la->len);
			memcpy(first + la->len, p, len);
			iov[0].iov_base = first;
			iov[0].iov_len = la->len + len;
		}
		if (iov[i].iov_len > max) {
			rc = refuse_long(la, what, iov[i].iov_len, max, false, buf,
					 i == 0 ? (size_t)(nl + 1 - buf) : 0);
			goto out;
		}
		p = nl + 1;
	}
	/* Room for the rest first: after the append nothing may fail. */
	if ((rc = lines_hold(la, what, rest)) < 0)
		goto out;
	rc = append(arg, la->iov, nlines);
	if (rc < 0) {
		log_warn("write %s: append failed: %s", what, strerror(-rc));
		goto out;
	}
	la->len = 0;
	hold_bytes(la, last + 1, rest);
	if (!rest)
		lines_drop(la);
	rc = (int)size;
out:
	free(first);
	if (la->iovcap > LINES_KEEP_IOV) {
		free(la->iov);
		la->iov = NULL;
		la->iovcap = 0;
	}
	return rc;
}

int lines_write(struct line_asm *la, const char *what, const char *buf, size_t size, size_t max,
		lines_append_fn append, void *arg)
{
	if (la->discarding) {
		/* The rest of a refused message: refuse it too, up to its end. */
		const char *nl = memchr(buf, '\n', size);
		if (nl) {
			la->discarding = false;
			la->rlen = nl + 1 - buf;
			la->rhash = XXH3_64bits(buf, la->rlen);
		}
		log_warn("write %s: refused: the rest of a message refused as longer than max_message",
			 what);
		return -EMSGSIZE;
	}
	if (!refused_again(la, buf, size)) {
		la->rlen = 0;
		return write_lines(la, what, buf, size, max, append, arg);
	}
	size_t old = la->rlen;
	if (size == old) {
		log_warn("write %s: refused: the end of a message refused as longer than max_message, sent again",
			 what);
		return -EMSGSIZE;
	}
	/* Skip what was sent again; the rest is a write of its own. */
	la->rlen = 0;
	int rc = write_lines(la, what, buf + old, size - old, max, append, arg);
	if (rc >= 0)
		return (int)size;
	if (la->rlen) {
		/* Refused again at once: a resend holds both refusals. */
		la->rlen += old;
		la->rhash = XXH3_64bits(buf, la->rlen);
	} else if (!la->discarding) {
		la->rlen = old;
		la->rhash = XXH3_64bits(buf, old);
	}
	return rc;
}

char *lines_join(const struct iovec *iov, size_t n, size_t *len)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += iov[i].iov_len + 1;
	char *buf = malloc(total ? total : 1);
	if (!buf)
		return NULL;
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(buf + at, iov[i].iov_base, iov[i].iov_len);
		at += iov[i].iov_len;
		buf[at++] = '\n';
	}
	*len = total;
	return buf;
}

int lines_collect(struct line_asm *la, const char *what, const char *buf, size_t size,
		  size_t max_line, lines_text_fn text, void *arg)
{
	const char *last = memrchr(buf, '\n', size);
	if (!last) {
		if (la->len + size > max_line)
			return -E2BIG;
		int rc = lines_hold(la, what, la->len + size);
		if (rc < 0)
			return rc;
		hold_bytes(la, buf, size);
		return (int)size;
	}
	size_t head = last + 1 - buf;
	char *joined = malloc(la->len + head);
	if (!joined)
		return -ENOMEM;
	if (la->len)
		memcpy(joined, la->buf, la->len);
	memcpy(joined + la->len, buf, head);
	int rc = text(arg, joined, la->len + head);
	free(joined);
	if (rc < 0)
		return rc;
	size_t rest = size - head;
	la->len = 0;
	if ((rc = lines_hold(la, what, rest)) < 0)
		return rc;
	hold_bytes(la, last + 1, rest);
	return (int)size;
}

void pending_init(struct pending_list *pl)
{
	pthread_mutex_init(&pl->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pl->stored, &ca);
	pthread_condattr_destroy(&ca);
	pl->head = NULL;
	atomic_store(&pl->count, 0);
}

void pending_destroy(struct pending_list *pl)
{
	pthread_cond_destroy(&pl->stored);
	pthread_mutex_destroy(&pl->mu);
}

void pending_add(struct pending_list *pl, struct pending_line *pn)
{
	pthread_mutex_lock(&pl->mu);	/* lock order: pending_list.mu first */
	if (!pn->listed) {
		pn->next = pl->head;
		pl->head = pn;
		pn->listed = true;
		atomic_fetch_add(&pl->count, 1);
	}
	pthread_mutex_unlock(&pl->mu);
}

/* Unlist PN; pl->mu held. */
static void unlink_locked(struct pending_list *pl, struct pending_line *pn)
{
	LOCK_ASSERT_HELD(&pl->mu);
	for (struct pending_line **pp = &pl->head; *pp; pp = &(*pp)->next)
		if (*pp == pn) {
			*pp = pn->next;
			pn->listed = false;
			atomic_fetch_sub(&pl->count, 1);
			return;
		}
}

void pending_remove(struct pending_list *pl, struct pending_line *pn)
{
	pthread_mutex_lock(&pl->mu);
	if (pn->listed)
		unlink_locked(pl, pn);
	pthread_mutex_unlock(&pl->mu);
}

/* Is an entry of KEY being stored by a committer? pl->mu held. */
static bool key_storing(struct pending_list *pl, const void *key)
{
	LOCK_ASSERT_HELD(&pl->mu);
	for (struct pending_line *pn = pl->head; pn; pn = pn->next)
		if (pn->key == key && pn->storing)
			return true;
	return false;
}

void pending_commit(struct pending_list *pl, const void *key,
		    void (*store)(struct pending_line *pn, void *arg), void *arg,
		    bool (*interrupted)(void))
{
	if (atomic_load(&pl->count) == 0)
		return;
	struct pending_line *mine = NULL;
	bool busy = false;
	pthread_mutex_lock(&pl->mu);
	for (struct pending_line *pn = pl->head; pn; pn = pn->next) {
		if (pn->key != key)
			continue;
		if (pn->storing) {
			busy = true; /* another committer's: waited for below */
			continue;
		}
		/* pending_list.mu, then fh.mu: the file may be busy with its
		 * own release storing the line; then this waits for that. */
		pthread_mutex_lock(pn->mu);
		pn->storing = true;
		pn->taken = mine;
		mine = pn;
	}
	pthread_mutex_unlock(&pl->mu);
	while (mine) {
		struct pending_line *next = mine->taken;
		mine->taken = NULL;
		store(mine, arg);
		/* Unlisted before its file's lock is let go (its release may
		 * free it then). fh.mu, then pending_list.mu, the other way
		 * round: safe, for no one locks the fh.mu of an entry marked
		 * storing under pending_list.mu (the loop above skips it). */
		pthread_mutex_lock(&pl->mu);
		mine->storing = false;
		if (mine->listed)
			unlink_locked(pl, mine);
		pthread_cond_broadcast(&pl->stored);
		pthread_mutex_unlock(&pl->mu);
		pthread_mutex_unlock(mine->mu);
		mine = next;
	}
	if (!busy)
		return;
	/* Lines another committer is storing were closed before the caller
	 * looked: the caller must see them, so it waits for those stores
	 * (each bounded by its home's own timeout), in 100 ms slices that a
	 * signal to the caller ends. */
	pthread_mutex_lock(&pl->mu);
	while (key_storing(pl, key) && !(interrupted && interrupted())) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 100 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&pl->stored, &pl->mu, &ts);
	}
	pthread_mutex_unlock(&pl->mu);
}
