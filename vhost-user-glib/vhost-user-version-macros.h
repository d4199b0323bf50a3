/* vhost-user-version-macros.h: symbol visibility and availability
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__VHOST_USER_GLIB_INSIDE__) && !defined(VHOST_USER_GLIB_COMPILATION)
#error "Only <vhost-user-glib.h> can be included directly."
#endif

#include <glib.h>

#include "vhost-user-version.h"

/* VHOST_USER_STATIC_COMPILATION is set for the internal static copy the
 * tests link, so that nothing is marked for export there. */
#ifndef _VHOST_USER_EXTERN
# if defined(VHOST_USER_GLIB_COMPILATION) && !defined(VHOST_USER_STATIC_COMPILATION)
#  define _VHOST_USER_EXTERN __attribute__((visibility ("default"))) extern
# else
#  define _VHOST_USER_EXTERN extern
# endif
#endif

#define VHOST_USER_VERSION_0_1 (G_ENCODE_VERSION (0, 1))

/**
 * VHOST_USER_VERSION_MIN_REQUIRED:
 *
 * Define this before including `<vhost-user-glib.h>` to the oldest
 * version your code must build against; deprecation warnings for later
 * deprecations are then silenced.
 *
 * Since: 1.0
 */
#ifndef VHOST_USER_VERSION_MIN_REQUIRED
# define VHOST_USER_VERSION_MIN_REQUIRED (VHOST_USER_VERSION_0_1)
#endif

/**
 * VHOST_USER_VERSION_MAX_ALLOWED:
 *
 * Define this before including `<vhost-user-glib.h>` to the newest
 * version whose API your code may use; newer symbols then warn.
 *
 * Since: 1.0
 */
#ifndef VHOST_USER_VERSION_MAX_ALLOWED
# define VHOST_USER_VERSION_MAX_ALLOWED (VHOST_USER_VERSION_0_1)
#endif

#define VHOST_USER_AVAILABLE_IN_ALL _VHOST_USER_EXTERN

#if VHOST_USER_VERSION_MAX_ALLOWED < VHOST_USER_VERSION_0_1
# define VHOST_USER_AVAILABLE_IN_0_1 G_UNAVAILABLE (0, 1) _VHOST_USER_EXTERN
#else
# define VHOST_USER_AVAILABLE_IN_0_1 _VHOST_USER_EXTERN
#endif
