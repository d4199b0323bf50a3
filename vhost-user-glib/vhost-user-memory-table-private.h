/* vhost-user-memory-table-private.h: building memory tables
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "vhost-user-memory-table.h"

G_BEGIN_DECLS

VhostUserMemoryRegion *vhost_user_memory_region_new_map (guint64       guest_phys_addr,
                                                         guint64       size,
                                                         guint64       user_addr,
                                                         guint64       mmap_offset,
                                                         int           fd,
                                                         GError      **error);
gboolean               vhost_user_memory_region_matches (const VhostUserMemoryRegion *region,
                                                         guint64       guest_phys_addr,
                                                         guint64       size,
                                                         guint64       user_addr);
gpointer               vhost_user_mapping_guard_add     (void         *base,
                                                         gsize         len,
                                                         int           fd);
guint                  vhost_user_mapping_guard_remove  (gpointer      guard);
VhostUserMemoryTable  *vhost_user_memory_table_new_empty (void);
guint8                *vhost_user_memory_table_gpa_region (const VhostUserMemoryTable *table,
                                                           guint64       guest_phys_addr,
                                                           guint64      *start,
                                                           guint64      *size);
VhostUserMemoryTable  *vhost_user_memory_table_add      (const VhostUserMemoryTable *table,
                                                         VhostUserMemoryRegion *region,
                                                         guint         max_regions,
                                                         GError      **error);
VhostUserMemoryTable  *vhost_user_memory_table_remove   (const VhostUserMemoryTable *table,
                                                         guint64       guest_phys_addr,
                                                         guint64       size,
                                                         guint64       user_addr,
                                                         GError      **error);

G_END_DECLS
