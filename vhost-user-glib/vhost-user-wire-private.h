/* vhost-user-wire-private.h: the protocol's byte layouts
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every struct here is exactly what travels on the socket, in the host's
 * byte order as the protocol says. They are never installed: the public
 * API hands out typed values, so the wire layout can be checked here once
 * (G_STATIC_ASSERT) and nowhere else.
 */

#pragma once

#include <stddef.h>
#include <glib.h>

G_BEGIN_DECLS

#define VHOST_USER_HEADER_SIZE        12
#define VHOST_USER_VERSION_MASK       0x3u
#define VHOST_USER_PROTOCOL_VERSION   0x1u
#define VHOST_USER_FLAG_REPLY         (1u << 2)
#define VHOST_USER_FLAG_NEED_REPLY    (1u << 3)
#define VHOST_USER_FLAGS_RESERVED     (~(VHOST_USER_VERSION_MASK | VHOST_USER_FLAG_REPLY | VHOST_USER_FLAG_NEED_REPLY))

/* The largest payload any request or reply of the table carries is
 * GET_SHMEM_CONFIG's reply (2056 bytes); config space may go up to a page.
 * Anything above this is refused before a byte of it is buffered. */
#define VHOST_USER_MAX_PAYLOAD        4096
/* Back-end channel: 8 by the spec; main channel: SET_MEM_TABLE's 8. */
#define VHOST_USER_MAX_FDS            8
/* Memory regions in one SET_MEM_TABLE (VHOST_MEMORY_BASELINE_NREGIONS). */
#define VHOST_USER_MAX_MEM_TABLE_REGIONS 8
#define VHOST_USER_CONFIG_HEADER_SIZE 12
#define VHOST_USER_MAX_CONFIG_SIZE    (VHOST_USER_MAX_PAYLOAD - VHOST_USER_CONFIG_HEADER_SIZE)
/* The config space as the spec bounds it (QEMU, libvhost-user and DPDK
 * cap a read there): GET_CONFIG reads within it past a device's own
 * config read zeros, as a register file reads past its end. */
#define VHOST_USER_CONFIG_SPACE_SIZE  256
#define VHOST_USER_MAX_SHMEM_REGIONS  256
/* SHMEM_MAP's flags: bit 0 read-write (else read only); no other is defined */
#define VHOST_USER_SHMEM_MAP_RW       1u

/* Bits of the u64 payload of SET_VRING_KICK/CALL/ERR and of vring area. */
#define VHOST_USER_VRING_INDEX_MASK   0xffu
#define VHOST_USER_VRING_NOFD_MASK    (1u << 8)

typedef struct {
  guint32 request;
  guint32 flags;
  guint32 size;
} VhostUserWireHeader;

typedef struct {
  guint32 index;
  guint32 num;
} VhostUserWireVringState;

typedef struct {
  guint32 index;
  guint32 flags;
  guint64 desc_user_addr;
  guint64 used_user_addr;
  guint64 avail_user_addr;
  guint64 log_guest_addr;
} VhostUserWireVringAddr;

typedef struct {
  guint64 guest_phys_addr;
  guint64 memory_size;
  guint64 userspace_addr;
  guint64 mmap_offset;
} VhostUserWireMemoryRegion;

typedef struct {
  guint64 guest_phys_addr;
  guint64 memory_size;
  guint64 userspace_addr;
  guint64 mmap_offset;
  guint32 xen_mmap_flags;
  guint32 domid;
} VhostUserWireXenMemoryRegion;

typedef struct {
  guint32 nregions;
  guint32 padding;
  /* then nregions regions, 32 bytes each (40 with XEN_MMAP) */
} VhostUserWireMemoryTableHeader;

typedef struct {
  guint64 padding;
  VhostUserWireMemoryRegion region;
} VhostUserWireSingleRegion;

typedef struct {
  guint64 padding;
  VhostUserWireXenMemoryRegion region;
} VhostUserWireXenSingleRegion;

typedef struct {
  guint64 mmap_size;
  guint64 mmap_offset;
} VhostUserWireLog;

typedef struct {
  guint64 iova;
  guint64 size;
  guint64 uaddr;
  guint8  perm;
  guint8  type;
  guint8  padding[6];
} VhostUserWireIotlb;

typedef struct {
  guint32 offset;
  guint32 size;
  guint32 flags;
  /* then size bytes of config space */
} VhostUserWireConfigHeader;

typedef struct {
  guint64 u64;  /* bits 0-7 ring index, bit 8 no fd */
  guint64 size;
  guint64 offset;
} VhostUserWireVringArea;

typedef struct {
  guint64 mmap_size;
  guint64 mmap_offset;
  guint16 num_queues;
  guint16 queue_size;
  guint8  padding[4];
} VhostUserWireInflight;

typedef struct {
  guint8 uuid[16];
} VhostUserWireSharedObject;

typedef struct {
  guint32 direction;
  guint32 phase;
} VhostUserWireDeviceStateTransfer;

typedef struct {
  guint8  shmid;
  guint8  padding[7];
  guint64 fd_offset;
  guint64 shm_offset;
  guint64 len;
  guint64 flags;
} VhostUserWireShmemMap;

typedef struct {
  guint32 nregions;
  guint32 padding;
  guint64 memory_sizes[VHOST_USER_MAX_SHMEM_REGIONS];
} VhostUserWireShmemConfig;

G_STATIC_ASSERT (sizeof (VhostUserWireHeader) == VHOST_USER_HEADER_SIZE);
G_STATIC_ASSERT (offsetof (VhostUserWireHeader, flags) == 4);
G_STATIC_ASSERT (offsetof (VhostUserWireHeader, size) == 8);
G_STATIC_ASSERT (sizeof (VhostUserWireVringState) == 8);
G_STATIC_ASSERT (sizeof (VhostUserWireVringAddr) == 40);
G_STATIC_ASSERT (offsetof (VhostUserWireVringAddr, desc_user_addr) == 8);
G_STATIC_ASSERT (offsetof (VhostUserWireVringAddr, used_user_addr) == 16);
G_STATIC_ASSERT (offsetof (VhostUserWireVringAddr, avail_user_addr) == 24);
G_STATIC_ASSERT (offsetof (VhostUserWireVringAddr, log_guest_addr) == 32);
G_STATIC_ASSERT (sizeof (VhostUserWireMemoryRegion) == 32);
G_STATIC_ASSERT (offsetof (VhostUserWireMemoryRegion, mmap_offset) == 24);
G_STATIC_ASSERT (sizeof (VhostUserWireXenMemoryRegion) == 40);
G_STATIC_ASSERT (offsetof (VhostUserWireXenMemoryRegion, domid) == 36);
G_STATIC_ASSERT (sizeof (VhostUserWireMemoryTableHeader) == 8);
G_STATIC_ASSERT (sizeof (VhostUserWireSingleRegion) == 40);
G_STATIC_ASSERT (sizeof (VhostUserWireXenSingleRegion) == 48);
G_STATIC_ASSERT (sizeof (VhostUserWireLog) == 16);
G_STATIC_ASSERT (sizeof (VhostUserWireIotlb) == 32);
G_STATIC_ASSERT (offsetof (VhostUserWireIotlb, perm) == 24);
G_STATIC_ASSERT (offsetof (VhostUserWireIotlb, type) == 25);
G_STATIC_ASSERT (sizeof (VhostUserWireConfigHeader) == VHOST_USER_CONFIG_HEADER_SIZE);
G_STATIC_ASSERT (sizeof (VhostUserWireVringArea) == 24);
G_STATIC_ASSERT (sizeof (VhostUserWireInflight) == 24);
G_STATIC_ASSERT (offsetof (VhostUserWireInflight, num_queues) == 16);
G_STATIC_ASSERT (offsetof (VhostUserWireInflight, queue_size) == 18);
G_STATIC_ASSERT (sizeof (VhostUserWireSharedObject) == 16);
G_STATIC_ASSERT (sizeof (VhostUserWireDeviceStateTransfer) == 8);
G_STATIC_ASSERT (sizeof (VhostUserWireShmemMap) == 40);
G_STATIC_ASSERT (offsetof (VhostUserWireShmemMap, fd_offset) == 8);
G_STATIC_ASSERT (offsetof (VhostUserWireShmemMap, flags) == 32);
G_STATIC_ASSERT (sizeof (VhostUserWireShmemConfig) == 2056);
G_STATIC_ASSERT (sizeof (VhostUserWireShmemConfig) <= VHOST_USER_MAX_PAYLOAD);

G_END_DECLS
