/*
 * openfile.c - owns the life of an open file's state (openfile.h).
 */
#define _GNU_SOURCE /* asprintf */
#include "openfile.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* F's common part, for a file NAME of S. 0 or -ENOMEM (F is then freed
 * by the caller with free(), nothing else taken). */
static int fh_init(struct fh *f, enum fh_kind kind, struct stream *s, const char *name,
		   uid_t owner, struct hold_budget *budget, struct hold_budget *reading)
{
	if (asprintf(&f->name, "/%s/%s/%s", s->cluster->name, s->name, name) < 0)
		return -ENOMEM;
	f->kind = kind;
	f->reading = reading;
	pthread_mutex_init(&f->mu, NULL);
	stream_get(s);
	f->stream = s;
	lines_init(&f->lines, budget, owner);
	return 0;
}

struct topic_fh *topic_fh_new(struct stream *s, struct topic *t, uid_t owner,
			      struct hold_budget *budget, struct hold_budget *reading)
{
	struct topic_fh *tf = calloc(1, sizeof(*tf));
	if (!tf)
		return NULL;
	if (fh_init(&tf->h, FH_TOPIC, s, t->name, owner, budget, reading) < 0) {
		free(tf);
		return NULL;
	}
	topic_get(t);
	tf->topic = t;
	atomic_fetch_add(&t->open_files, 1);
	tf->pending.key = t;
	tf->pending.mu = &tf->h.mu;
	return tf;
}

struct ctl_fh *ctl_fh_new(struct sfs_namespace *ns, struct stream *s, const char *mountpoint,
			  enum ctlfile which, bool truncating, uid_t owner,
			  struct hold_budget *budget, struct hold_budget *reading)
{
	struct ctl_fh *cf = calloc(1, sizeof(*cf));
	if (!cf)
		return NULL;
	static const char *const ctl[] = { ".replicas", ".upstreams", ".info" };
	if (fh_init(&cf->h, FH_CTL, s, ctl[which], owner, budget, reading) < 0) {
		free(cf);
		return NULL;
	}
	ctl_txn_init(&cf->txn, ns, s, mountpoint, which, truncating, budget, owner);
	return cf;
}

struct ctl_fh *rootinfo_fh_new(uid_t owner, struct hold_budget *reading)
{
	struct ctl_fh *cf = calloc(1, sizeof(*cf));
	if (!cf || !(cf->h.name = strdup("/.info"))) {
		free(cf);
		return NULL;
	}
	cf->h.kind = FH_ROOTINFO;
	cf->h.reading = reading;
	pthread_mutex_init(&cf->h.mu, NULL);
	lines_init(&cf->h.lines, NULL, owner);
	return cf;
}

struct remote_fh *remote_fh_new(struct cluster *cl, const char *stream, const char *file,
				bool ctl, const struct fs_caller *who, struct hold_budget *budget)
{
	struct remote_fh *rf = calloc(1, sizeof(*rf));
	if (!rf)
		return NULL;
	if (asprintf(&rf->h.name, "/%s/%s/%s", cl->name, stream, file) < 0) {
		free(rf);
		return NULL;
	}
	rf->h.kind = FH_REMOTE;
	pthread_mutex_init(&rf->h.mu, NULL);
	lines_init(&rf->h.lines, budget, who->uid);
	rf->cl = cl;
	snprintf(rf->stream, sizeof(rf->stream), "%s", stream);
	snprintf(rf->file, sizeof(rf->file), "%s", file);
	rf->ctl = ctl;
	rf->who = *who;
	rf->pending.mu = &rf->h.mu;
	return rf;
}

void fh_free(struct fh *f)
{
	if (!f)
		return;
	if (f->kind == FH_REMOTE) {
		struct remote_fh *rf = remote_fh_of(f);
		if (f->lines.budget && rf->textcap)
			hold_release(f->lines.budget, f->lines.owner, rf->textcap);
		free(rf->text);
		if (rf->reading && rf->snap)
			hold_release(rf->reading, f->lines.owner, rf->snaplen);
		free(rf->snap);
		if (rf->reading && rf->ra)
			hold_release(rf->reading, rf->who.uid, rf->ra_cap);
		free(rf->ra);
	} else if (f->kind == FH_TOPIC) {
		struct topic_fh *tf = topic_fh_of(f);
		/* The last file of a topic: a hidden name it has (removed
		 * while open) goes. */
		if (atomic_fetch_sub(&tf->topic->open_files, 1) == 1)
			stream_forget_hidden(f->stream, NULL, tf->topic);
		topic_put(tf->topic);
		topic_read_hint_free(&tf->hint);
		if (f->reading && tf->hint_charged)
			hold_release(f->reading, f->lines.owner, tf->hint_charged);
	} else {
		struct ctl_fh *cf = ctl_fh_of(f);
		if (f->kind == FH_CTL)
			ctl_txn_destroy(&cf->txn);
		if (f->reading && cf->snap)
			hold_release(f->reading, f->lines.owner, cf->snaplen);
		free(cf->snap);
	}
	if (f->stream)
		stream_put(f->stream);
	lines_destroy(&f->lines);
	pthread_mutex_destroy(&f->mu);
	free(f->name);
	free(f);
}

int ctl_fh_keep_text(struct ctl_fh *cf, char *text, size_t len)
{
	struct fh *f = &cf->h;
	if (f->reading && hold_charge(f->reading, f->lines.owner, len) < 0) {
		free(text);
		return -ENOBUFS;
	}
	cf->snap = text;
	cf->snaplen = len;
	return 0;
}

void topic_fh_count_readahead(struct topic_fh *tf)
{
	struct fh *f = &tf->h;
	if (!f->reading)
		return;
	size_t cap = tf->hint.ahead ? tf->hint.ahead_cap : 0;
	if (cap > tf->hint_charged) {
		if (hold_charge(f->reading, f->lines.owner, cap - tf->hint_charged) == 0) {
			tf->hint_charged = cap;
			return;
		}
		/* Past the opener's share: read on without read-ahead. */
		topic_read_hint_free(&tf->hint);
		cap = 0;
	}
	if (cap < tf->hint_charged) {
		hold_release(f->reading, f->lines.owner, tf->hint_charged - cap);
		tf->hint_charged = cap;
	}
}
