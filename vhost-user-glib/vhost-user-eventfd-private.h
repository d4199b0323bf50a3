/* vhost-user-eventfd-private.h: eventfds a peer shares with us
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean vhost_user_eventfd_drain  (int      fd,
                                    guint64 *count);
gboolean vhost_user_eventfd_signal (int      fd);

G_END_DECLS
