/* example-log.h: every request a back-end gets, by name
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <vhost-user-glib.h>

G_BEGIN_DECLS

void example_log_every_request (VhostUserBackend *backend);

G_END_DECLS
