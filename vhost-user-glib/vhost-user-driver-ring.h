/* vhost-user-driver-ring.h: a virtqueue from the driver's seat
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__VHOST_USER_GLIB_INSIDE__) && !defined(VHOST_USER_GLIB_COMPILATION)
#error "Only <vhost-user-glib.h> can be included directly."
#endif

#include <glib-object.h>

#include "vhost-user-memory-table.h"
#include "vhost-user-version-macros.h"

G_BEGIN_DECLS

#define VHOST_USER_TYPE_DRIVER_RING (vhost_user_driver_ring_get_type ())

VHOST_USER_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VhostUserDriverRing, vhost_user_driver_ring, VHOST_USER, DRIVER_RING, GObject)

VHOST_USER_AVAILABLE_IN_ALL
VhostUserDriverRing *vhost_user_driver_ring_new             (VhostUserMemoryRegion *region,
                                                             guint64                offset,
                                                             guint                  size,
                                                             GError               **error);
VHOST_USER_AVAILABLE_IN_ALL
VhostUserDriverRing *vhost_user_driver_ring_new_packed      (VhostUserMemoryRegion *region,
                                                             guint64                offset,
                                                             guint                  size,
                                                             GError               **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean             vhost_user_driver_ring_get_packed      (VhostUserDriverRing   *self);
VHOST_USER_AVAILABLE_IN_ALL
void                 vhost_user_driver_ring_set_event_idx   (VhostUserDriverRing   *self,
                                                             gboolean               event_idx);
VHOST_USER_AVAILABLE_IN_ALL
guint                vhost_user_driver_ring_get_size        (VhostUserDriverRing   *self);
VHOST_USER_AVAILABLE_IN_ALL
guint64              vhost_user_driver_ring_get_desc_addr   (VhostUserDriverRing   *self);
VHOST_USER_AVAILABLE_IN_ALL
guint64              vhost_user_driver_ring_get_avail_addr  (VhostUserDriverRing   *self);
VHOST_USER_AVAILABLE_IN_ALL
guint64              vhost_user_driver_ring_get_used_addr   (VhostUserDriverRing   *self);
VHOST_USER_AVAILABLE_IN_ALL
int                  vhost_user_driver_ring_get_kick_fd     (VhostUserDriverRing   *self);
VHOST_USER_AVAILABLE_IN_ALL
int                  vhost_user_driver_ring_get_call_fd     (VhostUserDriverRing   *self);
VHOST_USER_AVAILABLE_IN_ALL
gboolean             vhost_user_driver_ring_clear_call      (VhostUserDriverRing   *self);
VHOST_USER_AVAILABLE_IN_ALL
guint                vhost_user_driver_ring_get_free        (VhostUserDriverRing   *self);
VHOST_USER_AVAILABLE_IN_ALL
guint                vhost_user_driver_ring_get_in_flight   (VhostUserDriverRing   *self);
VHOST_USER_AVAILABLE_IN_ALL
gsize                vhost_user_driver_ring_get_record_size (guint                  size);
VHOST_USER_AVAILABLE_IN_ALL
gboolean             vhost_user_driver_ring_set_record      (VhostUserDriverRing   *self,
                                                             guint64                offset,
                                                             GError               **error);
VHOST_USER_AVAILABLE_IN_ALL
VhostUserDriverRing *vhost_user_driver_ring_reopen          (VhostUserMemoryRegion *region,
                                                             guint64                record_offset,
                                                             GError               **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean             vhost_user_driver_ring_add             (VhostUserDriverRing   *self,
                                                             const guint64         *out_offsets,
                                                             const guint32         *out_lens,
                                                             guint                  n_out,
                                                             const guint64         *in_offsets,
                                                             const guint32         *in_lens,
                                                             guint                  n_in,
                                                             guint                 *head,
                                                             GError               **error);
VHOST_USER_AVAILABLE_IN_ALL
void                 vhost_user_driver_ring_add_region      (VhostUserDriverRing   *self,
                                                             VhostUserMemoryRegion *region);
VHOST_USER_AVAILABLE_IN_ALL
gboolean             vhost_user_driver_ring_add_gpa         (VhostUserDriverRing   *self,
                                                             const guint64         *out_gpas,
                                                             const guint32         *out_lens,
                                                             guint                  n_out,
                                                             const guint64         *in_gpas,
                                                             const guint32         *in_lens,
                                                             guint                  n_in,
                                                             guint                 *head,
                                                             GError               **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean             vhost_user_driver_ring_add_indirect    (VhostUserDriverRing   *self,
                                                             guint64                table_offset,
                                                             const guint64         *out_offsets,
                                                             const guint32         *out_lens,
                                                             guint                  n_out,
                                                             const guint64         *in_offsets,
                                                             const guint32         *in_lens,
                                                             guint                  n_in,
                                                             guint                 *head,
                                                             GError               **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean             vhost_user_driver_ring_kick            (VhostUserDriverRing   *self,
                                                             GError               **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean             vhost_user_driver_ring_get_used        (VhostUserDriverRing   *self,
                                                             guint                 *head,
                                                             guint                 *len);

G_END_DECLS
