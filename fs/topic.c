/*
 * topic.c - what every home's topic shares (topic.h): its common part,
 * references, and the helpers of batches and read hints. The operations
 * themselves are the home's (fs/local/logtopic.c for the local log).
 */
#include "topic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void topic_init(struct topic *t, const struct topic_ops *ops, const char *name,
		const uuid_t stream_uuid)
{
	t->ops = ops;
	snprintf(t->name, sizeof(t->name), "%s", name);
	uuid_copy(t->stream_uuid, stream_uuid);
	atomic_init(&t->damaged_offset, -1);
	atomic_init(&t->open_files, 0);
	atomic_init(&t->refs, 1);
}

void topic_get(struct topic *t)
{
	atomic_fetch_add(&t->refs, 1);
}

void topic_put(struct topic *t)
{
	if (atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	t->ops->destroy(t);
}

uint64_t topic_end(struct topic *t)
{
	uint64_t n;
	topic_stat(t, &n, NULL, NULL);
	return n;
}

int topic_batch_reserve(struct topic_batch *b, size_t bytes)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		struct topic_msg *m = realloc(b->msgs, cap * sizeof(*m));
		if (!m)
			return -ENOMEM;
		b->msgs = m;
		b->cap = cap;
	}
	if (!b->data || b->data_len + bytes > b->data_cap) {
		size_t cap = b->data_cap ? b->data_cap : 65536;
		while (cap < b->data_len + bytes)
			cap *= 2;
		uint8_t *d = realloc(b->data, cap);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->data_cap = cap;
	}
	return 0;
}

void topic_batch_free(struct topic_batch *b)
{
	free(b->msgs);
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void topic_read_hint_free(struct topic_read_hint *hint)
{
	free(hint->ahead);
	hint->ahead = NULL;
	hint->ahead_cap = hint->ahead_len = 0;
}
