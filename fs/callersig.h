/*
 * callersig.h - has the caller of the FUSE request this thread serves
 * been signalled in a way that ends a wait? (fs/callersig.c)
 */
#ifndef STREAMFS_CALLERSIG_H
#define STREAMFS_CALLERSIG_H

#include <stdbool.h>
#include <stdint.h>

/*
 * fuse_caller_signalled - true when the kernel asked to interrupt the
 * request this thread serves (fuse_interrupted: a signal to its caller)
 * and the caller has a pending, unblocked signal other than those whose
 * default action is to be ignored (SIGCHLD, SIGCONT, SIGURG, SIGWINCH),
 * SIGSTOP, and SIGTSTP, SIGTTIN, SIGTTOU when the caller does not catch
 * them (Ctrl-Z then fg of a writer must not fail its write: the kernel
 * stops the caller only once the request is answered).
 * A shell whose background job ends gets SIGCHLD while its `echo >>`
 * waits on a slow append (NATS electing a leader, a synchronous replica,
 * a remote cluster): the kernel interrupts the request for it (FUSE
 * interrupts on any signal, fs/fuse/dev.c request_wait_answer), and an
 * EINTR there fails the echo, which the user never asked for
 * (docs/filesystem.md, "Signals"). The pending set is read from
 * /proc/<caller>/status; when it cannot be, the interruption counts.
 * Only while serving a FUSE request; false elsewhere.
 */
bool fuse_caller_signalled(void);

/*
 * callersig_matters - whether pending signal sets PENDING (the thread's
 * and the process's, or-ed) with BLOCKED and CAUGHT (the signals with a
 * handler), as /proc/<pid>/status gives them (SigPnd|ShdPnd, SigBlk,
 * SigCgt: bit n-1 for signal n), hold a signal that ends a wait. Pure;
 * for fuse_caller_signalled and the unit tests.
 */
bool callersig_matters(uint64_t pending, uint64_t blocked, uint64_t caught);

#endif
