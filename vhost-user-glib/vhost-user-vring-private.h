/* vhost-user-vring-private.h: what the back-end changes in a ring
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "vhost-user-iotlb-private.h"
#include "vhost-user-memory-table.h"
#include "vhost-user-vring.h"

G_BEGIN_DECLS

typedef enum {
  VHOST_USER_VRING_FD_KICK,
  VHOST_USER_VRING_FD_CALL,
  VHOST_USER_VRING_FD_ERR,
} VhostUserVringFdKind;

/* Called in the back-end's context once a stopped ring has no request in
 * flight any more. */
typedef void (*VhostUserVringDrainedFunc) (VhostUserVring *vring,
                                           gpointer        user_data);
/* Called from vhost_user_vring_call() (any thread) when the ring has no
 * call fd: the in-band BACKEND_VRING_CALL. */
typedef void (*VhostUserVringCallFunc)    (VhostUserVring *vring,
                                           gpointer        user_data);
/* Called in the back-end's context after the driver broke the ring. */
typedef void (*VhostUserVringBrokenFunc)  (VhostUserVring *vring,
                                           gpointer        user_data);

/* Called under the ring's lock, in the ring's thread, when a pop missed
 * in the IOTLB: it only wakes the back-end's context, which takes the
 * miss (vhost_user_vring_take_miss()) and asks the front-end
 * (BACKEND_IOTLB_MSG). */
typedef void (*VhostUserVringMissFunc)    (VhostUserVring *vring,
                                           gpointer        user_data);

VhostUserVring *vhost_user_vring_new          (guint                        index,
                                               GMainContext                *context);
guint           vhost_user_vring_get_n_retired_tables (VhostUserVring      *self);
void            vhost_user_vring_set_memory_table (VhostUserVring          *self,
                                               VhostUserMemoryTable        *table);
void            vhost_user_vring_set_features (VhostUserVring              *self,
                                               gboolean                     packed,
                                               gboolean                     event_idx);
void            vhost_user_vring_set_size     (VhostUserVring              *self,
                                               guint                        size);
gboolean        vhost_user_vring_can_resize   (VhostUserVring              *self,
                                               GError                     **error);
void            vhost_user_vring_set_address  (VhostUserVring              *self,
                                               const VhostUserVringAddress *address);
void            vhost_user_vring_set_enabled  (VhostUserVring              *self,
                                               gboolean                     enabled);
void            vhost_user_vring_set_started  (VhostUserVring              *self,
                                               gboolean                     started);
void            vhost_user_vring_take_fd      (VhostUserVring              *self,
                                               VhostUserVringFdKind         kind,
                                               int                          fd);
void            vhost_user_vring_reset        (VhostUserVring              *self);
void            vhost_user_vring_when_drained (VhostUserVring              *self,
                                               VhostUserVringDrainedFunc    func,
                                               gpointer                     user_data,
                                               GDestroyNotify               notify);
void            vhost_user_vring_stop_skip_drain (VhostUserVring          *self,
                                               guint32                     *base);
void            vhost_user_vring_set_inflight_area (VhostUserVring         *self,
                                               GBytes                      *area,
                                               gboolean                     zeroed);
void            vhost_user_vring_set_logging  (VhostUserVring              *self,
                                               gboolean                     log_all,
                                               GBytes                      *log,
                                               int                          log_fd);
void            vhost_user_vring_set_call_func (VhostUserVring             *self,
                                               VhostUserVringCallFunc       func,
                                               gpointer                     user_data);
void            vhost_user_vring_set_broken_func (VhostUserVring         *self,
                                               VhostUserVringBrokenFunc     func,
                                               gpointer                     user_data);
void            vhost_user_vring_set_iotlb    (VhostUserVring              *self,
                                               VhostUserIotlb              *iotlb);
void            vhost_user_vring_set_miss_func (VhostUserVring             *self,
                                               VhostUserVringMissFunc       func,
                                               gpointer                     user_data);
gboolean        vhost_user_vring_take_miss    (VhostUserVring              *self,
                                               guint64                     *iova,
                                               guint                       *perm);
void            vhost_user_vring_iotlb_updated (VhostUserVring             *self);
void            vhost_user_vring_iotlb_failed (VhostUserVring              *self,
                                               guint64                      iova,
                                               guint64                      size,
                                               const char                  *why);
guint           vhost_user_vring_iotlb_fence  (VhostUserVring              *self,
                                               VhostUserIotlbFence         *fence,
                                               guint64                      first,
                                               guint64                      last);
void            vhost_user_vring_kick         (VhostUserVring              *self);

G_END_DECLS
