/* test-util.h: helpers shared by the tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* open fds of this process, from /proc/self/fd, once the library's
 * threads on peers' pipes have ended (or 5 s have passed) */
guint    test_count_open_fds     (void);
/* for a fuzz target, after an input: no more fds open than the inputs
 * before left; more, and @run (the target) runs the input again: a leak
 * grows again and aborts, a facility set up once on first use does not */
void     test_fuzz_check_fds     (void          (*run) (const guint8 *data, gsize size),
                                  const guint8  *data,
                                  gsize          size);
/* a fresh eventfd / memfd, or abort */
int      test_eventfd            (void);
int      test_memfd              (gsize size);
/* TRUE if @fd is open in this process */
gboolean test_fd_is_open         (int fd);
/* a path for a socket in a new temporary directory; free with g_free,
 * the directory is removed by test_socket_path_free */
char    *test_socket_path_new    (const char *name);
void     test_socket_path_free   (char *path);
/* iterate @context until *@flag is TRUE or @timeout_ms passes */
gboolean test_iterate_until      (GMainContext *context,
                                  gboolean     *flag,
                                  guint         timeout_ms);
/* nothing in @context is ready, its own wake-up included: what a source
 * just dispatched left it to sleep on (no wake-up of its own making) */
gboolean test_context_is_asleep  (GMainContext *context);

/* Holds the lock of the pipe @fd is an end of, as a peer can: a
 * splice() into it (through a description of the pipe opened again for
 * writing) from a socket nobody writes to waits with the lock taken, so
 * every read and write of the pipe, through any end, waits in the kernel
 * whatever O_NONBLOCK or RWF_NOWAIT say. Returns once the splice waits;
 * test_pipe_lock_release() ends it. */
typedef struct _TestPipeLock TestPipeLock;
TestPipeLock *test_pipe_lock_hold    (int           fd);
void          test_pipe_lock_release (TestPipeLock *lock);

G_END_DECLS
