/* vhost-user-enums.h: the protocol's request numbers and feature bits
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__VHOST_USER_GLIB_INSIDE__) && !defined(VHOST_USER_GLIB_COMPILATION)
#error "Only <vhost-user-glib.h> can be included directly."
#endif

#include <glib.h>

#include "vhost-user-version-macros.h"

G_BEGIN_DECLS

/**
 * VhostUserRequestType:
 * @VHOST_USER_REQUEST_NONE: not a request (0 is never sent)
 * @VHOST_USER_REQUEST_GET_FEATURES: query the virtio features the back-end offers
 * @VHOST_USER_REQUEST_SET_FEATURES: acknowledge the virtio features in use
 * @VHOST_USER_REQUEST_SET_OWNER: start a session (the front-end takes ownership)
 * @VHOST_USER_REQUEST_RESET_OWNER: deprecated; disables the rings at most
 * @VHOST_USER_REQUEST_SET_MEM_TABLE: replace the guest memory table, one fd per region
 * @VHOST_USER_REQUEST_SET_LOG_BASE: pass the dirty-log area as an fd
 * @VHOST_USER_REQUEST_SET_LOG_FD: pass an eventfd signalled after logging
 * @VHOST_USER_REQUEST_SET_VRING_NUM: set a ring's size
 * @VHOST_USER_REQUEST_SET_VRING_ADDR: set a ring's descriptor, avail and used addresses
 * @VHOST_USER_REQUEST_SET_VRING_BASE: set a ring's next available index
 * @VHOST_USER_REQUEST_GET_VRING_BASE: stop a ring and return its base
 * @VHOST_USER_REQUEST_SET_VRING_KICK: pass a ring's kick eventfd
 * @VHOST_USER_REQUEST_SET_VRING_CALL: pass a ring's call eventfd
 * @VHOST_USER_REQUEST_SET_VRING_ERR: pass a ring's error eventfd
 * @VHOST_USER_REQUEST_GET_PROTOCOL_FEATURES: query the protocol features the back-end offers
 * @VHOST_USER_REQUEST_SET_PROTOCOL_FEATURES: acknowledge the protocol features in use
 * @VHOST_USER_REQUEST_GET_QUEUE_NUM: query the number of queues
 * @VHOST_USER_REQUEST_SET_VRING_ENABLE: enable or disable a ring
 * @VHOST_USER_REQUEST_SEND_RARP: ask a net device to announce a MAC address
 * @VHOST_USER_REQUEST_NET_SET_MTU: tell a net device its MTU
 * @VHOST_USER_REQUEST_SET_BACKEND_REQ_FD: pass the socket of the back-end channel (old name SET_SLAVE_REQ_FD)
 * @VHOST_USER_REQUEST_IOTLB_MSG: update or invalidate an IOTLB entry
 * @VHOST_USER_REQUEST_SET_VRING_ENDIAN: set a legacy ring's endianness
 * @VHOST_USER_REQUEST_GET_CONFIG: read the device config space
 * @VHOST_USER_REQUEST_SET_CONFIG: write the device config space
 * @VHOST_USER_REQUEST_CREATE_CRYPTO_SESSION: create a crypto session
 * @VHOST_USER_REQUEST_CLOSE_CRYPTO_SESSION: close a crypto session
 * @VHOST_USER_REQUEST_POSTCOPY_ADVISE: open a userfaultfd for postcopy migration
 * @VHOST_USER_REQUEST_POSTCOPY_LISTEN: enter the postcopy listening state
 * @VHOST_USER_REQUEST_POSTCOPY_END: leave postcopy
 * @VHOST_USER_REQUEST_GET_INFLIGHT_FD: ask for a shared buffer tracking in-flight descriptors
 * @VHOST_USER_REQUEST_SET_INFLIGHT_FD: hand a kept in-flight buffer back after reconnect
 * @VHOST_USER_REQUEST_GPU_SET_SOCKET: pass the vhost-user-gpu socket
 * @VHOST_USER_REQUEST_RESET_DEVICE: reset the device, keeping the session
 * @VHOST_USER_REQUEST_VRING_KICK: kick a ring in-band
 * @VHOST_USER_REQUEST_GET_MAX_MEM_SLOTS: query how many memory regions the back-end can map
 * @VHOST_USER_REQUEST_ADD_MEM_REG: map one more memory region
 * @VHOST_USER_REQUEST_REM_MEM_REG: unmap one memory region
 * @VHOST_USER_REQUEST_SET_STATUS: set the virtio device status byte
 * @VHOST_USER_REQUEST_GET_STATUS: read the virtio device status byte
 * @VHOST_USER_REQUEST_GET_SHARED_OBJECT: look up a shared object (dma-buf) by UUID
 * @VHOST_USER_REQUEST_SET_DEVICE_STATE_FD: start a device-state transfer over a pipe
 * @VHOST_USER_REQUEST_CHECK_DEVICE_STATE: check the outcome of a device-state transfer
 * @VHOST_USER_REQUEST_GET_SHMEM_CONFIG: query the device's shared memory regions
 * @VHOST_USER_REQUEST_GET_VRING_BASE_SKIP_DRAIN: stop a ring without completing its requests in flight, and return its base
 *
 * The requests a front-end ("master") sends to a back-end ("slave") on the
 * main socket, numbered as on the wire. The nicks (`get-features`,
 * `set-vring-addr`, …) are API: they name the back-end's signals.
 *
 * Since: 1.0
 */
typedef enum {
  VHOST_USER_REQUEST_NONE = 0,
  VHOST_USER_REQUEST_GET_FEATURES = 1,
  VHOST_USER_REQUEST_SET_FEATURES = 2,
  VHOST_USER_REQUEST_SET_OWNER = 3,
  VHOST_USER_REQUEST_RESET_OWNER = 4,
  VHOST_USER_REQUEST_SET_MEM_TABLE = 5,
  VHOST_USER_REQUEST_SET_LOG_BASE = 6,
  VHOST_USER_REQUEST_SET_LOG_FD = 7,
  VHOST_USER_REQUEST_SET_VRING_NUM = 8,
  VHOST_USER_REQUEST_SET_VRING_ADDR = 9,
  VHOST_USER_REQUEST_SET_VRING_BASE = 10,
  VHOST_USER_REQUEST_GET_VRING_BASE = 11,
  VHOST_USER_REQUEST_SET_VRING_KICK = 12,
  VHOST_USER_REQUEST_SET_VRING_CALL = 13,
  VHOST_USER_REQUEST_SET_VRING_ERR = 14,
  VHOST_USER_REQUEST_GET_PROTOCOL_FEATURES = 15,
  VHOST_USER_REQUEST_SET_PROTOCOL_FEATURES = 16,
  VHOST_USER_REQUEST_GET_QUEUE_NUM = 17,
  VHOST_USER_REQUEST_SET_VRING_ENABLE = 18,
  VHOST_USER_REQUEST_SEND_RARP = 19,
  VHOST_USER_REQUEST_NET_SET_MTU = 20,
  VHOST_USER_REQUEST_SET_BACKEND_REQ_FD = 21,
  VHOST_USER_REQUEST_IOTLB_MSG = 22,
  VHOST_USER_REQUEST_SET_VRING_ENDIAN = 23,
  VHOST_USER_REQUEST_GET_CONFIG = 24,
  VHOST_USER_REQUEST_SET_CONFIG = 25,
  VHOST_USER_REQUEST_CREATE_CRYPTO_SESSION = 26,
  VHOST_USER_REQUEST_CLOSE_CRYPTO_SESSION = 27,
  VHOST_USER_REQUEST_POSTCOPY_ADVISE = 28,
  VHOST_USER_REQUEST_POSTCOPY_LISTEN = 29,
  VHOST_USER_REQUEST_POSTCOPY_END = 30,
  VHOST_USER_REQUEST_GET_INFLIGHT_FD = 31,
  VHOST_USER_REQUEST_SET_INFLIGHT_FD = 32,
  VHOST_USER_REQUEST_GPU_SET_SOCKET = 33,
  VHOST_USER_REQUEST_RESET_DEVICE = 34,
  VHOST_USER_REQUEST_VRING_KICK = 35,
  VHOST_USER_REQUEST_GET_MAX_MEM_SLOTS = 36,
  VHOST_USER_REQUEST_ADD_MEM_REG = 37,
  VHOST_USER_REQUEST_REM_MEM_REG = 38,
  VHOST_USER_REQUEST_SET_STATUS = 39,
  VHOST_USER_REQUEST_GET_STATUS = 40,
  VHOST_USER_REQUEST_GET_SHARED_OBJECT = 41,
  VHOST_USER_REQUEST_SET_DEVICE_STATE_FD = 42,
  VHOST_USER_REQUEST_CHECK_DEVICE_STATE = 43,
  VHOST_USER_REQUEST_GET_SHMEM_CONFIG = 44,
  VHOST_USER_REQUEST_GET_VRING_BASE_SKIP_DRAIN = 45,
} VhostUserRequestType;

/**
 * VhostUserBackendRequestType:
 * @VHOST_USER_BACKEND_REQUEST_NONE: not a request (0 is never sent)
 * @VHOST_USER_BACKEND_REQUEST_IOTLB_MSG: report an IOTLB miss or access failure
 * @VHOST_USER_BACKEND_REQUEST_CONFIG_CHANGE_MSG: tell the front-end the config space changed
 * @VHOST_USER_BACKEND_REQUEST_VRING_HOST_NOTIFIER_MSG: offer (or withdraw) a mappable notification area for a ring
 * @VHOST_USER_BACKEND_REQUEST_VRING_CALL: signal a ring's call in-band
 * @VHOST_USER_BACKEND_REQUEST_VRING_ERR: signal a ring's error in-band
 * @VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_ADD: export a shared object by UUID
 * @VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_REMOVE: withdraw an exported shared object
 * @VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_LOOKUP: look up a shared object by UUID
 * @VHOST_USER_BACKEND_REQUEST_SHMEM_MAP: map an fd into a shared memory region
 * @VHOST_USER_BACKEND_REQUEST_SHMEM_UNMAP: unmap a range of a shared memory region
 *
 * The requests a back-end sends to the front-end on the back-end channel
 * (the old "slave channel", set up by
 * %VHOST_USER_REQUEST_SET_BACKEND_REQ_FD), numbered as on the wire. The
 * nicks are API: they name the front-end's signals.
 *
 * Since: 1.0
 */
typedef enum {
  VHOST_USER_BACKEND_REQUEST_NONE = 0,
  VHOST_USER_BACKEND_REQUEST_IOTLB_MSG = 1,
  VHOST_USER_BACKEND_REQUEST_CONFIG_CHANGE_MSG = 2,
  VHOST_USER_BACKEND_REQUEST_VRING_HOST_NOTIFIER_MSG = 3,
  VHOST_USER_BACKEND_REQUEST_VRING_CALL = 4,
  VHOST_USER_BACKEND_REQUEST_VRING_ERR = 5,
  VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_ADD = 6,
  VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_REMOVE = 7,
  VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_LOOKUP = 8,
  VHOST_USER_BACKEND_REQUEST_SHMEM_MAP = 9,
  VHOST_USER_BACKEND_REQUEST_SHMEM_UNMAP = 10,
} VhostUserBackendRequestType;

/**
 * VhostUserProtocolFeatures:
 * @VHOST_USER_PROTOCOL_FEATURE_NONE: no protocol feature
 * @VHOST_USER_PROTOCOL_FEATURE_MQ: multiple queues, %VHOST_USER_REQUEST_GET_QUEUE_NUM
 * @VHOST_USER_PROTOCOL_FEATURE_LOG_SHMFD: the dirty log is passed as an fd
 * @VHOST_USER_PROTOCOL_FEATURE_RARP: %VHOST_USER_REQUEST_SEND_RARP
 * @VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK: every request may ask for an acknowledgement
 * @VHOST_USER_PROTOCOL_FEATURE_MTU: %VHOST_USER_REQUEST_NET_SET_MTU
 * @VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ: the back-end channel (old name SLAVE_REQ)
 * @VHOST_USER_PROTOCOL_FEATURE_CROSS_ENDIAN: %VHOST_USER_REQUEST_SET_VRING_ENDIAN
 * @VHOST_USER_PROTOCOL_FEATURE_CRYPTO_SESSION: crypto session requests
 * @VHOST_USER_PROTOCOL_FEATURE_PAGEFAULT: postcopy migration with userfaultfd
 * @VHOST_USER_PROTOCOL_FEATURE_CONFIG: config space requests
 * @VHOST_USER_PROTOCOL_FEATURE_BACKEND_SEND_FD: fds on the back-end channel (old name SLAVE_SEND_FD)
 * @VHOST_USER_PROTOCOL_FEATURE_HOST_NOTIFIER: mappable host notifiers
 * @VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD: in-flight descriptor tracking
 * @VHOST_USER_PROTOCOL_FEATURE_RESET_DEVICE: %VHOST_USER_REQUEST_RESET_DEVICE
 * @VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS: kicks and calls as messages
 * @VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS: memory regions added and removed one at a time
 * @VHOST_USER_PROTOCOL_FEATURE_STATUS: virtio device status requests
 * @VHOST_USER_PROTOCOL_FEATURE_XEN_MMAP: Xen mapping fields in memory regions
 * @VHOST_USER_PROTOCOL_FEATURE_SHARED_OBJECT: dma-buf sharing by UUID
 * @VHOST_USER_PROTOCOL_FEATURE_DEVICE_STATE: device-state transfer for migration
 * @VHOST_USER_PROTOCOL_FEATURE_GET_VRING_BASE_INFLIGHT: GET_VRING_BASE may record in-flight requests instead of draining them
 * @VHOST_USER_PROTOCOL_FEATURE_GPA_ADDRESSES: ring and region addresses are guest-physical
 * @VHOST_USER_PROTOCOL_FEATURE_SHMEM: shared memory regions (GET_SHMEM_CONFIG, SHMEM_MAP/UNMAP)
 * @VHOST_USER_PROTOCOL_FEATURE_GET_VRING_BASE_SKIP_DRAIN: %VHOST_USER_REQUEST_GET_VRING_BASE_SKIP_DRAIN
 *
 * Protocol feature bits, negotiated with
 * %VHOST_USER_REQUEST_GET_PROTOCOL_FEATURES and
 * %VHOST_USER_REQUEST_SET_PROTOCOL_FEATURES once both sides have virtio
 * feature bit 30 (%VHOST_USER_VIRTIO_FEATURE_BIT_PROTOCOL_FEATURES). On the
 * wire this is a 64-bit mask; every bit defined so far is below 32.
 *
 * Since: 1.0
 */
typedef enum /*< flags >*/ {
  VHOST_USER_PROTOCOL_FEATURE_NONE = 0,
  VHOST_USER_PROTOCOL_FEATURE_MQ = 1 << 0,
  VHOST_USER_PROTOCOL_FEATURE_LOG_SHMFD = 1 << 1,
  VHOST_USER_PROTOCOL_FEATURE_RARP = 1 << 2,
  VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK = 1 << 3,
  VHOST_USER_PROTOCOL_FEATURE_MTU = 1 << 4,
  VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ = 1 << 5,
  VHOST_USER_PROTOCOL_FEATURE_CROSS_ENDIAN = 1 << 6,
  VHOST_USER_PROTOCOL_FEATURE_CRYPTO_SESSION = 1 << 7,
  VHOST_USER_PROTOCOL_FEATURE_PAGEFAULT = 1 << 8,
  VHOST_USER_PROTOCOL_FEATURE_CONFIG = 1 << 9,
  VHOST_USER_PROTOCOL_FEATURE_BACKEND_SEND_FD = 1 << 10,
  VHOST_USER_PROTOCOL_FEATURE_HOST_NOTIFIER = 1 << 11,
  VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD = 1 << 12,
  VHOST_USER_PROTOCOL_FEATURE_RESET_DEVICE = 1 << 13,
  VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS = 1 << 14,
  VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS = 1 << 15,
  VHOST_USER_PROTOCOL_FEATURE_STATUS = 1 << 16,
  VHOST_USER_PROTOCOL_FEATURE_XEN_MMAP = 1 << 17,
  VHOST_USER_PROTOCOL_FEATURE_SHARED_OBJECT = 1 << 18,
  VHOST_USER_PROTOCOL_FEATURE_DEVICE_STATE = 1 << 19,
  VHOST_USER_PROTOCOL_FEATURE_GET_VRING_BASE_INFLIGHT = 1 << 20,
  VHOST_USER_PROTOCOL_FEATURE_GPA_ADDRESSES = 1 << 21,
  VHOST_USER_PROTOCOL_FEATURE_SHMEM = 1 << 22,
  VHOST_USER_PROTOCOL_FEATURE_GET_VRING_BASE_SKIP_DRAIN = 1 << 23,
} VhostUserProtocolFeatures;

/**
 * VhostUserVirtioFeatureBit:
 * @VHOST_USER_VIRTIO_FEATURE_BIT_LOG_ALL: dirty logging of all guest writes (`VHOST_F_LOG_ALL`)
 * @VHOST_USER_VIRTIO_FEATURE_BIT_INDIRECT_DESC: indirect descriptor tables
 * @VHOST_USER_VIRTIO_FEATURE_BIT_EVENT_IDX: used/avail event index notification suppression
 * @VHOST_USER_VIRTIO_FEATURE_BIT_PROTOCOL_FEATURES: vhost-user protocol features exist (`VHOST_USER_F_PROTOCOL_FEATURES`)
 * @VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1: virtio 1.0 device
 * @VHOST_USER_VIRTIO_FEATURE_BIT_ACCESS_PLATFORM: addresses go through an IOMMU (`VIRTIO_F_IOMMU_PLATFORM`)
 * @VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED: packed virtqueues
 *
 * The virtio feature bits that change how the vhost-user protocol itself
 * behaves, given as bit numbers of the 64-bit feature mask (virtio
 * features do not fit a #GFlags type). Use VHOST_USER_FEATURE() to make a
 * mask.
 *
 * Since: 1.0
 */
typedef enum {
  VHOST_USER_VIRTIO_FEATURE_BIT_LOG_ALL = 26,
  VHOST_USER_VIRTIO_FEATURE_BIT_INDIRECT_DESC = 28,
  VHOST_USER_VIRTIO_FEATURE_BIT_EVENT_IDX = 29,
  VHOST_USER_VIRTIO_FEATURE_BIT_PROTOCOL_FEATURES = 30,
  VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1 = 32,
  VHOST_USER_VIRTIO_FEATURE_BIT_ACCESS_PLATFORM = 33,
  VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED = 34,
} VhostUserVirtioFeatureBit;

/**
 * VhostUserDeviceState:
 * @VHOST_USER_DEVICE_STATE_DISCONNECTED: no back-end on the socket (never
 *   connected, lost, or given up on)
 * @VHOST_USER_DEVICE_STATE_NEGOTIATING: the device is applying its setup:
 *   a start, or the replay after a reconnect
 * @VHOST_USER_DEVICE_STATE_RUNNING: the rings run
 * @VHOST_USER_DEVICE_STATE_STOPPED: connected, the rings not running (not
 *   started yet, or stopped with their bases kept)
 *
 * Where a #VhostUserDevice stands, as its #VhostUserDevice:state property
 * says.
 *
 * Since: 1.0
 */
typedef enum {
  VHOST_USER_DEVICE_STATE_DISCONNECTED,
  VHOST_USER_DEVICE_STATE_NEGOTIATING,
  VHOST_USER_DEVICE_STATE_RUNNING,
  VHOST_USER_DEVICE_STATE_STOPPED,
} VhostUserDeviceState;

/**
 * VhostUserIotlbType:
 * @VHOST_USER_IOTLB_MISS: the back-end asks for a translation (`BACKEND_IOTLB_MSG`)
 * @VHOST_USER_IOTLB_UPDATE: the front-end maps a range (`IOTLB_MSG`)
 * @VHOST_USER_IOTLB_INVALIDATE: the front-end unmaps a range (`IOTLB_MSG`)
 * @VHOST_USER_IOTLB_ACCESS_FAIL: the front-end will not map what a miss
 *   asked for
 *
 * The kinds of IOTLB message (`struct vhost_iotlb_msg`'s type), as
 * [signal@VhostUser.Frontend::iotlb-msg] and
 * [signal@VhostUser.Backend::iotlb-msg] give them and
 * vhost_user_frontend_send_iotlb_msg() sends them.
 *
 * Since: 1.0
 */
typedef enum {
  VHOST_USER_IOTLB_MISS = 1,
  VHOST_USER_IOTLB_UPDATE = 2,
  VHOST_USER_IOTLB_INVALIDATE = 3,
  VHOST_USER_IOTLB_ACCESS_FAIL = 4,
} VhostUserIotlbType;

/**
 * VhostUserIotlbPerm:
 * @VHOST_USER_IOTLB_PERM_NONE: no access (as invalidations carry it)
 * @VHOST_USER_IOTLB_PERM_RO: the device may read
 * @VHOST_USER_IOTLB_PERM_WO: the device may write
 * @VHOST_USER_IOTLB_PERM_RW: both
 *
 * The access an IOTLB message maps, or a miss asks for.
 *
 * Since: 1.0
 */
typedef enum /*< flags >*/ {
  VHOST_USER_IOTLB_PERM_NONE = 0,
  VHOST_USER_IOTLB_PERM_RO = 1 << 0,
  VHOST_USER_IOTLB_PERM_WO = 1 << 1,
  VHOST_USER_IOTLB_PERM_RW = VHOST_USER_IOTLB_PERM_RO | VHOST_USER_IOTLB_PERM_WO,
} VhostUserIotlbPerm;

/**
 * VHOST_USER_FEATURE:
 * @bit: a virtio feature bit number, such as a #VhostUserVirtioFeatureBit
 *
 * The 64-bit feature mask with only @bit set.
 *
 * Since: 1.0
 */
#define VHOST_USER_FEATURE(bit) (G_GUINT64_CONSTANT (1) << (bit))

VHOST_USER_AVAILABLE_IN_ALL
const char  *vhost_user_request_type_get_name          (VhostUserRequestType        request);
VHOST_USER_AVAILABLE_IN_ALL
const char  *vhost_user_backend_request_type_get_name  (VhostUserBackendRequestType request);

G_END_DECLS
