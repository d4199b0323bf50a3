/* vhost-user-glib.h: the vhost-user protocol on GLib
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#define __VHOST_USER_GLIB_INSIDE__

#include "vhost-user-version.h"
#include "vhost-user-version-macros.h"
#include "vhost-user-features.h"
#include "vhost-user-enums.h"
#include "vhost-user-enum-types.h"
#include "vhost-user-error.h"
#include "vhost-user-memory-table.h"
#include "vhost-user-invocation.h"
#if VHOST_USER_HAS_BACKEND
#include "vhost-user-vring.h"
#include "vhost-user-backend.h"
#include "vhost-user-server.h"
#endif
#if VHOST_USER_HAS_FRONTEND
#include "vhost-user-object-registry.h"
#include "vhost-user-frontend.h"
#include "vhost-user-driver-ring.h"
#include "vhost-user-device.h"
#endif

#undef __VHOST_USER_GLIB_INSIDE__
