/* vhost-user-memory-table.h: guest memory as the back-end maps it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__VHOST_USER_GLIB_INSIDE__) && !defined(VHOST_USER_GLIB_COMPILATION)
#error "Only <vhost-user-glib.h> can be included directly."
#endif

#include <glib-object.h>

#include "vhost-user-version-macros.h"

G_BEGIN_DECLS

#define VHOST_USER_TYPE_MEMORY_REGION (vhost_user_memory_region_get_type ())
#define VHOST_USER_TYPE_MEMORY_TABLE  (vhost_user_memory_table_get_type ())

typedef struct _VhostUserMemoryRegion VhostUserMemoryRegion;
typedef struct _VhostUserMemoryTable  VhostUserMemoryTable;

VHOST_USER_AVAILABLE_IN_ALL
GType                  vhost_user_memory_region_get_type            (void) G_GNUC_CONST;
VHOST_USER_AVAILABLE_IN_ALL
VhostUserMemoryRegion *vhost_user_memory_region_new_memfd           (guint64                guest_phys_addr,
                                                                     guint64                size,
                                                                     GError               **error);
VHOST_USER_AVAILABLE_IN_ALL
int                    vhost_user_memory_region_get_fd              (const VhostUserMemoryRegion *region);
VHOST_USER_AVAILABLE_IN_ALL
VhostUserMemoryRegion *vhost_user_memory_region_ref                 (VhostUserMemoryRegion *region);
VHOST_USER_AVAILABLE_IN_ALL
void                   vhost_user_memory_region_unref               (VhostUserMemoryRegion *region);
VHOST_USER_AVAILABLE_IN_ALL
guint64                vhost_user_memory_region_get_guest_phys_addr (const VhostUserMemoryRegion *region);
VHOST_USER_AVAILABLE_IN_ALL
guint64                vhost_user_memory_region_get_size            (const VhostUserMemoryRegion *region);
VHOST_USER_AVAILABLE_IN_ALL
guint64                vhost_user_memory_region_get_user_addr       (const VhostUserMemoryRegion *region);
VHOST_USER_AVAILABLE_IN_ALL
guint64                vhost_user_memory_region_get_mmap_offset     (const VhostUserMemoryRegion *region);
VHOST_USER_AVAILABLE_IN_ALL
gpointer               vhost_user_memory_region_get_host_addr       (const VhostUserMemoryRegion *region);

VHOST_USER_AVAILABLE_IN_ALL
GType                  vhost_user_memory_table_get_type             (void) G_GNUC_CONST;
VHOST_USER_AVAILABLE_IN_ALL
VhostUserMemoryTable  *vhost_user_memory_table_new                  (VhostUserMemoryRegion **regions,
                                                                     guint                  n_regions,
                                                                     GError               **error);
VHOST_USER_AVAILABLE_IN_ALL
VhostUserMemoryTable  *vhost_user_memory_table_ref                  (VhostUserMemoryTable  *table);
VHOST_USER_AVAILABLE_IN_ALL
void                   vhost_user_memory_table_unref                (VhostUserMemoryTable  *table);
VHOST_USER_AVAILABLE_IN_ALL
guint                  vhost_user_memory_table_get_n_regions        (const VhostUserMemoryTable *table);
VHOST_USER_AVAILABLE_IN_ALL
VhostUserMemoryRegion *vhost_user_memory_table_get_region           (const VhostUserMemoryTable *table,
                                                                     guint                  index);
VHOST_USER_AVAILABLE_IN_ALL
guint64                vhost_user_memory_table_get_total_size       (const VhostUserMemoryTable *table);
VHOST_USER_AVAILABLE_IN_ALL
gpointer               vhost_user_memory_table_translate_gpa        (const VhostUserMemoryTable *table,
                                                                     guint64                guest_phys_addr,
                                                                     guint64               *len);
VHOST_USER_AVAILABLE_IN_ALL
gpointer               vhost_user_memory_table_translate_user_addr  (const VhostUserMemoryTable *table,
                                                                     guint64                user_addr,
                                                                     guint64               *len);
VHOST_USER_AVAILABLE_IN_ALL
GBytes                *vhost_user_memory_table_read_gpa             (const VhostUserMemoryTable *table,
                                                                     guint64                guest_phys_addr,
                                                                     gsize                  len,
                                                                     GError               **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean               vhost_user_memory_table_write_gpa            (const VhostUserMemoryTable *table,
                                                                     guint64                guest_phys_addr,
                                                                     GBytes                *data,
                                                                     GError               **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VhostUserMemoryRegion, vhost_user_memory_region_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VhostUserMemoryTable, vhost_user_memory_table_unref)

G_END_DECLS
