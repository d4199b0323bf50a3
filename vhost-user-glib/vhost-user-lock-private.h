/* vhost-user-lock-private.h: GMutex as ThreadSanitizer can see it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * GLib's GMutex is a futex of its own, built without TSan: in a
 * -fsanitize=thread build its lock and unlock are invisible and every
 * access it protects looks like a race. These wrappers tell TSan about
 * the happens-before edge the mutex makes; elsewhere they are the plain
 * calls.
 */

#pragma once

#include <glib.h>

#if defined(__SANITIZE_THREAD__)
# define VHOST_USER_TSAN 1
#elif defined(__has_feature)
# if __has_feature(thread_sanitizer)
#  define VHOST_USER_TSAN 1
# endif
#endif

#ifdef VHOST_USER_TSAN
void __tsan_acquire (void *addr);
void __tsan_release (void *addr);
# define vhost_user_mutex_lock(m)   G_STMT_START { g_mutex_lock (m); __tsan_acquire (m); } G_STMT_END
# define vhost_user_mutex_unlock(m) G_STMT_START { __tsan_release (m); g_mutex_unlock (m); } G_STMT_END
#else
# define vhost_user_mutex_lock(m)   g_mutex_lock (m)
# define vhost_user_mutex_unlock(m) g_mutex_unlock (m)
#endif
