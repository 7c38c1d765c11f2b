/*
 * natsmerge.c - the three-way merge of one daemon's metadata change with
 * another daemon's (natsmerge.h; docs/nats.md, "Metadata changed on two
 * daemons at once"): top-level fields, and the entries of a list (a
 * control file's lines).
 */
#include "natsmerge.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/types.h>

/* Does KEY name a time (nanoseconds, only moving forward)? */
static int is_time(const char *key)
{
	size_t n = strlen(key);
	return n >= 3 && !strcmp(key + n - 3, "_ns");
}

/* Are A and B the same entry of a list: the same "cluster" and "stream"
 * (a replica, an upstream), or equal if either has none? */
static int same_entry(json_t *a, json_t *b)
{
	const char *ac = json_string_value(json_object_get(a, "cluster"));
	const char *as = json_string_value(json_object_get(a, "stream"));
	const char *bc = json_string_value(json_object_get(b, "cluster"));
	const char *bs = json_string_value(json_object_get(b, "stream"));
	if (ac && as && bc && bs)
		return !strcmp(ac, bc) && !strcmp(as, bs);
	return json_equal(a, b);
}

/* The index of the entry of LIST that is E (same_entry), or -1. */
static ssize_t find_entry(json_t *list, json_t *e)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v) {
		if (same_entry(v, e))
			return (ssize_t)i;
	}
	return -1;
}

/* THEIRS with the entries OURS added to, changed in or removed from BASE
 * (three lists) made in it; NULL out of memory. Quadratic: the lists are
 * a few dozen entries (a merged one is refused past NATS_META_LIST_MAX,
 * and each daemon bounds its own). */
static json_t *merge_list(json_t *base, json_t *ours, json_t *theirs)
{
	json_t *out = json_deep_copy(theirs);
	size_t i;
	json_t *v;
	if (!out)
		return NULL;
	json_array_foreach(base, i, v) {
		ssize_t k;
		if (find_entry(ours, v) < 0 && (k = find_entry(out, v)) >= 0)
			json_array_remove(out, (size_t)k); /* removed here */
	}
	json_array_foreach(ours, i, v) {
		ssize_t b = find_entry(base, v), k = find_entry(out, v);
		if (b >= 0 && json_equal(json_array_get(base, (size_t)b), v))
			continue; /* not changed here */
		if (b >= 0 && k < 0)
			continue; /* changed here, removed there: stays removed */
		json_t *c = json_deep_copy(v);
		int r = !c ? -1 : k >= 0 ? json_array_set_new(out, (size_t)k, c) :
				  json_array_append_new(out, c);
		if (r < 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

int nats_meta_merge(const json_t *base, const json_t *ours, const json_t *theirs, json_t **out)
{
	*out = NULL;
	if (!json_is_object(ours) || !json_is_object(theirs))
		return -EINVAL;
	if (!json_is_object(base))
		base = NULL;
	/* json_deep_copy and the getters take no const: none changes them. */
	json_t *m = json_deep_copy((json_t *)theirs);
	if (!m)
		return -ENOMEM;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)ours, k, v) {
		json_t *b = base ? json_object_get(base, k) : NULL;
		if (b && json_equal(b, v))
			continue; /* not ours to set: theirs stays */
		json_t *t = json_object_get(m, k);
		if (is_time(k) && json_is_integer(v) && json_is_integer(t) &&
		    json_integer_value(t) > json_integer_value(v))
			continue; /* a time only forward */
		json_t *put;
		if (json_is_array(v) && json_is_array(b) && json_is_array(t) && !json_equal(b, t)) {
			if (!(put = merge_list(b, v, t)))
				goto nomem;
			if (json_array_size(put) > NATS_META_LIST_MAX) {
				json_decref(put);
				json_decref(m);
				return -ENOSPC;
			}
		} else if (!(put = json_deep_copy(v))) {
			goto nomem;
		}
		if (json_object_set_new(m, k, put) < 0)
			goto nomem;
	}
	if (base) {
		json_object_foreach((json_t *)base, k, v) {
			if (!json_object_get(ours, k))
				json_object_del(m, k); /* removed by this daemon */
		}
	}
	assert(json_is_object(m));
	*out = m;
	return 0;
nomem:
	json_decref(m);
	return -ENOMEM;
}
