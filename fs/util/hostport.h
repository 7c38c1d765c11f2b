/*
 * hostport.h - the one parser of HOST:PORT, as mount.conf's `gateway` and
 * `[gateway] listen` keys and the gateway's client and listener use it.
 */
#ifndef STREAMFS_HOSTPORT_H
#define STREAMFS_HOSTPORT_H

#include <stddef.h>

/*
 * hostport_split - split S, "HOST:PORT" or "[IPV6]:PORT", into HOST (the
 * brackets removed) and PORT, NUL-terminated, in buffers of HOSTLEN and
 * PORTLEN bytes. HOST is non-empty without white space (a bare IPv6 address
 * needs the brackets); PORT is a decimal number 1-65535. Either buffer may
 * be NULL to only validate. Returns 0, or -EINVAL for anything else
 * (-ENAMETOOLONG when a part does not fit its buffer).
 */
int hostport_split(const char *s, char *host, size_t hostlen, char *port, size_t portlen);

/*
 * hostport_listen - a listening TCP socket (close-on-exec, SO_REUSEADDR,
 * BACKLOG) on S as hostport_split reads it, the first address of it that
 * binds. Returns the descriptor (the caller closes it), or a negative
 * errno with what went wrong in WHY (N bytes): -EINVAL for a bad S or a
 * name that does not resolve, else bind's or listen's error.
 */
int hostport_listen(const char *s, int backlog, char *why, size_t n);

#endif
