/* vhost-user-notify.c: the calling thread's notification batches (see
 * vhost-user-notify-private.h)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "vhost-user-notify-private.h"

__thread VhostUserNotifyBatch *vhost_user_notify_batches;
