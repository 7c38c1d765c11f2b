/*
 * names.h - what a stream, topic or cluster may be called.
 *
 * docs/filesystem.md: 1-255 characters of A-Z a-z 0-9 . _ -, not starting with '.'.
 * The rule keeps every name usable as one path component on disk and keeps
 * the dot files (.replicas, .upstreams, .info) out of the topic namespace.
 */
#ifndef STREAMFS_NAMES_H
#define STREAMFS_NAMES_H

#include <stdbool.h>

/* name_valid - true if NAME follows the rule above. */
bool name_valid(const char *name);

#endif
