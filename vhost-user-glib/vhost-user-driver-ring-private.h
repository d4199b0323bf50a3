/* vhost-user-driver-ring-private.h: what the device object asks a driver ring
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "vhost-user-driver-ring.h"

G_BEGIN_DECLS

guint vhost_user_driver_ring_restart_base (VhostUserDriverRing *self,
                                           guint               *outstanding);

G_END_DECLS
