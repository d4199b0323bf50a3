/* example-access.h: who may connect to an example's socket
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <vhost-user-glib.h>

G_BEGIN_DECLS

void     example_access_add_options (GOptionContext   *options);
gboolean example_access_apply       (VhostUserServer  *server,
                                     GError          **error);

G_END_DECLS
