/* vhost-user-iotlb-private.h: the back-end's IOTLB
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * With VIRTIO_F_ACCESS_PLATFORM the addresses a driver gives (rings,
 * descriptors, indirect tables) are I/O virtual addresses. The front-end,
 * which plays the IOMMU, tells the back-end how they map to its own
 * addresses with IOTLB_MSG updates and invalidations; what the back-end
 * does not know it asks for (BACKEND_IOTLB_MSG, a miss).
 *
 * One table per back-end, shared by its rings, which may run in threads
 * of their own: every call takes the table's lock (a ring takes it under
 * its own, never the other way round). Lookups never allocate.
 */

#pragma once

#include <glib.h>

/* the protocol's values (struct vhost_iotlb_msg): VhostUserIotlbType and
 * VhostUserIotlbPerm */
#include "vhost-user-enums.h"

G_BEGIN_DECLS

typedef struct _VhostUserIotlb      VhostUserIotlb;
typedef struct _VhostUserIotlbFence VhostUserIotlbFence;

typedef enum {
  VHOST_USER_IOTLB_HIT,
  VHOST_USER_IOTLB_NOT_CACHED,   /* ask the front-end */
  VHOST_USER_IOTLB_DENIED,       /* mapped, without the access asked for */
} VhostUserIotlbResult;

/* Called once every request a fence holds was given back, in the order
 * the fences were made; from whichever thread gave the last one back,
 * under the table's lock (and possibly a ring's): it must only wake
 * someone. */
typedef void (*VhostUserIotlbFenceFunc) (gpointer user_data);

VhostUserIotlb       *vhost_user_iotlb_new         (guint                   max_entries);
VhostUserIotlb       *vhost_user_iotlb_ref         (VhostUserIotlb         *iotlb);
void                  vhost_user_iotlb_unref       (VhostUserIotlb         *iotlb);
gboolean              vhost_user_iotlb_update      (VhostUserIotlb         *iotlb,
                                                    guint64                 iova,
                                                    guint64                 size,
                                                    guint64                 user_addr,
                                                    guint                   perm,
                                                    GError                **error);
gboolean              vhost_user_iotlb_invalidate  (VhostUserIotlb         *iotlb,
                                                    guint64                 iova,
                                                    guint64                 size,
                                                    guint                  *n_removed,
                                                    GError                **error);
VhostUserIotlbResult  vhost_user_iotlb_translate   (VhostUserIotlb         *iotlb,
                                                    guint64                 iova,
                                                    guint64                *len,
                                                    guint                   perm,
                                                    guint64                *user_addr);
void                  vhost_user_iotlb_flush       (VhostUserIotlb         *iotlb);
guint                 vhost_user_iotlb_get_n_entries (VhostUserIotlb       *iotlb);
gboolean              vhost_user_iotlb_covers      (VhostUserIotlb         *iotlb,
                                                    guint64                 iova);

VhostUserIotlbFence  *vhost_user_iotlb_fence_new   (VhostUserIotlb         *iotlb,
                                                    VhostUserIotlbFenceFunc func,
                                                    gpointer                user_data);
void                  vhost_user_iotlb_fence_hold  (VhostUserIotlbFence    *fence);
void                  vhost_user_iotlb_fence_release (VhostUserIotlbFence  *fence);
void                  vhost_user_iotlb_sync        (VhostUserIotlb         *iotlb);
GSList               *vhost_user_iotlb_cancel_fences (VhostUserIotlb       *iotlb);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VhostUserIotlb, vhost_user_iotlb_unref)

G_END_DECLS
