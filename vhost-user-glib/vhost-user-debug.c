/* vhost-user-debug.c: VHOST_USER_DEBUG switches
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "vhost-user-debug-private.h"

static const GDebugKey debug_keys[] = {
  { "trace", VHOST_USER_DEBUG_TRACE },
  { "memory", VHOST_USER_DEBUG_MEMORY },
  { "vring", VHOST_USER_DEBUG_VRING },
};

/* Read once: the environment is not expected to change under a running
 * device, and every message asks. */
guint
vhost_user_get_debug_flags (void)
{
  static gsize flags_once = 0;
  static guint flags;

  if (g_once_init_enter (&flags_once))
    {
      flags = g_parse_debug_string (g_getenv ("VHOST_USER_DEBUG"),
                                    debug_keys, G_N_ELEMENTS (debug_keys));
      g_once_init_leave (&flags_once, 1);
    }
  return flags;
}
