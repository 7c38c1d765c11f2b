/*
 * natsmerge.c - the three-way merge of one daemon's metadata change with
 * another daemon's (natsmerge.h; docs/nats.md, "Metadata changed on two
 * daemons at once"). Top-level fields only: a stream's replicas or
 * upstreams list is one field, as a control file is one file.
 */
#include "natsmerge.h"

#include <assert.h>
#include <string.h>

/* Does KEY name a time (nanoseconds, only moving forward)? */
static int is_time(const char *key)
{
	size_t n = strlen(key);
	return n >= 3 && !strcmp(key + n - 3, "_ns");
}

json_t *nats_meta_merge(const json_t *base, const json_t *ours, const json_t *theirs)
{
	if (!json_is_object(ours) || !json_is_object(theirs))
		return NULL;
	if (!json_is_object(base))
		base = NULL;
	/* json_deep_copy and the getters take no const: none changes them. */
	json_t *out = json_deep_copy((json_t *)theirs);
	if (!out)
		return NULL;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)ours, k, v) {
		json_t *b = base ? json_object_get(base, k) : NULL;
		if (b && json_equal(b, v))
			continue; /* not ours to set: theirs stays */
		json_t *t = json_object_get(out, k);
		json_t *put = v;
		if (is_time(k) && json_is_integer(v) && json_is_integer(t) &&
		    json_integer_value(t) > json_integer_value(v))
			put = t;
		if (put != t && json_object_set_new(out, k, json_deep_copy(put)) < 0) {
			json_decref(out);
			return NULL;
		}
	}
	if (base) {
		json_object_foreach((json_t *)base, k, v) {
			if (!json_object_get(ours, k))
				json_object_del(out, k); /* removed by this daemon */
		}
	}
	assert(json_is_object(out));
	return out;
}
