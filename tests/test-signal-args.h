/* test-signal-args.h: a signal's arguments as text, for the tests that
 * record emissions (test-backend, test-frontend)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <vhost-user-glib.h>

G_BEGIN_DECLS

/* @data as lower-case hex digits, appended to @s */
void  test_append_hex          (GString                     *s,
                                const guint8                *data,
                                gsize                        len);
/* gpa+size@uaddr/offset:the text where it is mapped, appended to @s */
void  test_append_region       (GString                     *s,
                                const VhostUserMemoryRegion *region);
/* @values, space-separated: numbers, booleans, strings, bytes in hex,
 * "fd" or "no-fd" for an int (open or not: call it during the emission,
 * the only time a handler's fds are valid), ring addresses, regions and
 * tables as test_append_region() gives them */
char *test_format_signal_args  (guint                        n,
                                const GValue                *values);

G_END_DECLS
