/* vhost-user-debug-private.h: VHOST_USER_DEBUG switches and logging
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  VHOST_USER_DEBUG_TRACE  = 1 << 0,  /* every message, decoded */
  VHOST_USER_DEBUG_MEMORY = 1 << 1,  /* mappings made and released */
  VHOST_USER_DEBUG_VRING  = 1 << 2,  /* ring state changes */
} VhostUserDebugFlags;

guint vhost_user_get_debug_flags (void);

#define VHOST_USER_HAS_DEBUG(flag) \
  G_UNLIKELY ((vhost_user_get_debug_flags () & VHOST_USER_DEBUG_##flag) != 0)

/* Messages shown because the user asked for them with VHOST_USER_DEBUG:
 * logged at MESSAGE level so that they appear without G_MESSAGES_DEBUG,
 * with the switch as a structured field for journal filtering. */
#define VHOST_USER_NOTE(flag, ...) \
  G_STMT_START { \
    if (VHOST_USER_HAS_DEBUG (flag)) \
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, \
                        "VHOST_USER_DEBUG", #flag, \
                        "MESSAGE", __VA_ARGS__); \
  } G_STMT_END

G_END_DECLS
