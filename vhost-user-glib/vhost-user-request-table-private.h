/* vhost-user-request-table-private.h: every request of the protocol, as data
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "vhost-user-enums.h"
#include "vhost-user-wire-private.h"

G_BEGIN_DECLS

/* Which socket a message travels on, named after who sends requests on
 * it: the main socket carries front-end requests, the back-end channel
 * (SET_BACKEND_REQ_FD) carries back-end requests. Replies go the other way
 * on the same socket. */
typedef enum {
  VHOST_USER_CHANNEL_MAIN,
  VHOST_USER_CHANNEL_BACKEND,
} VhostUserChannel;

/* The last request of each channel, which sizes the tables indexed by
 * request number: a request added to the protocol moves one of these. */
#define VHOST_USER_LAST_REQUEST          VHOST_USER_REQUEST_GET_VRING_BASE_SKIP_DRAIN
#define VHOST_USER_LAST_BACKEND_REQUEST  VHOST_USER_BACKEND_REQUEST_SHMEM_UNMAP
/* Every protocol feature bit defined so far (the tests offer them all). */
#define VHOST_USER_PROTOCOL_FEATURES_KNOWN \
  ((((guint64) VHOST_USER_PROTOCOL_FEATURE_GET_VRING_BASE_SKIP_DRAIN) << 1) - 1)

typedef enum {
  VHOST_USER_PAYLOAD_NONE,
  VHOST_USER_PAYLOAD_U64,
  VHOST_USER_PAYLOAD_VRING_STATE,
  VHOST_USER_PAYLOAD_VRING_ADDR,
  VHOST_USER_PAYLOAD_VRING_FD,       /* u64: index, no-fd bit; the bit decides the fd count */
  VHOST_USER_PAYLOAD_MEM_TABLE,      /* 8 + n regions; n fds */
  VHOST_USER_PAYLOAD_SINGLE_REGION,
  VHOST_USER_PAYLOAD_LOG,
  VHOST_USER_PAYLOAD_IOTLB,
  VHOST_USER_PAYLOAD_CONFIG,         /* 12 + size */
  VHOST_USER_PAYLOAD_VRING_AREA,     /* the no-fd bit decides the fd count */
  VHOST_USER_PAYLOAD_INFLIGHT,
  VHOST_USER_PAYLOAD_UUID,
  VHOST_USER_PAYLOAD_DEVICE_STATE,
  VHOST_USER_PAYLOAD_SHMEM_MAP,
  VHOST_USER_PAYLOAD_SHMEM_CONFIG,
  VHOST_USER_PAYLOAD_OPAQUE,         /* layout left to the device (crypto sessions, SET_LOG_BASE's reply) */
} VhostUserPayloadKind;

typedef enum {
  VHOST_USER_REPLY_NONE,    /* never answered */
  VHOST_USER_REPLY_ACK,     /* a u64 status, only when REPLY_ACK is negotiated and NEED_REPLY set */
  VHOST_USER_REPLY_ALWAYS,  /* always answered, with the reply payload below */
} VhostUserReplyKind;

typedef enum {
  VHOST_USER_GATE_NONE = 0,
  /* the virtio gate applies to the features offered by the back-end, not
   * to those acknowledged (GET/SET_PROTOCOL_FEATURES come before
   * SET_FEATURES) */
  VHOST_USER_GATE_VIRTIO_OFFERED = 1 << 0,
  /* ... until SET_FEATURES acknowledged some: QEMU's net device enables
   * its first queue pair before it sets features, on the strength of the
   * offer */
  VHOST_USER_GATE_VIRTIO_OFFERED_UNTIL_ACKED = 1 << 1,
} VhostUserGateFlags;

/* What a request's signal carries after the invocation. Each request
 * table row names one; the shape gives both the signal's GTypes (when the
 * role registers it) and the decoder that fills them (when a request
 * arrives), so the two cannot disagree. Several shapes share GTypes and
 * differ only in what their decoder checks. */
typedef enum {
  VHOST_USER_SHAPE_NONE,
  VHOST_USER_SHAPE_U64,
  VHOST_USER_SHAPE_INDEX,          /* vring state: the index only */
  VHOST_USER_SHAPE_INDEX_NUM,      /* vring state: index and number */
  VHOST_USER_SHAPE_VRING_SIZE,     /* index and a ring size the device can hold */
  VHOST_USER_SHAPE_INDEX_BOOL,     /* index and 0 or 1 */
  VHOST_USER_SHAPE_INDEX_FD,       /* u64 index with the no-fd bit, and an eventfd */
  VHOST_USER_SHAPE_FD,
  VHOST_USER_SHAPE_EVENTFD,        /* an fd that must be an eventfd */
  VHOST_USER_SHAPE_VRING_ADDR,
  VHOST_USER_SHAPE_MEM_TABLE,      /* every region mapped */
  VHOST_USER_SHAPE_REGION,         /* one region mapped */
  VHOST_USER_SHAPE_REGION_DESC,    /* one region described, not mapped */
  VHOST_USER_SHAPE_LOG,
  VHOST_USER_SHAPE_IOTLB,
  VHOST_USER_SHAPE_CONFIG_GET,
  VHOST_USER_SHAPE_CONFIG_SET,
  VHOST_USER_SHAPE_BYTES,
  VHOST_USER_SHAPE_INFLIGHT_GET,
  VHOST_USER_SHAPE_INFLIGHT_SET,
  VHOST_USER_SHAPE_UUID,
  VHOST_USER_SHAPE_DEVICE_STATE,
  VHOST_USER_SHAPE_VRING_AREA,
  VHOST_USER_SHAPE_SHMEM_MAP,
  VHOST_USER_SHAPE_SHMEM_UNMAP,
  VHOST_USER_N_SHAPES
} VhostUserShape;

typedef struct {
  VhostUserPayloadKind kind;
  guint16 min_size;
  guint16 max_size;
  guint8  min_fds;
  guint8  max_fds;
} VhostUserPayloadSpec;

typedef struct {
  guint32               number;
  const char           *name;       /* the spec's name, e.g. "SET_BACKEND_REQ_FD" */
  const char           *old_name;   /* the name before the 2023 renaming, or NULL */
  const char           *nick;       /* the enum value's nick, and the name of its signal */
  VhostUserShape        shape;      /* the signal's arguments after the invocation */
  VhostUserPayloadSpec  request;
  VhostUserReplyKind    reply;
  /* For REPLY_ALWAYS: the reply. For REPLY_ACK: an alternative to the u64
   * ack (the postcopy replies of SET_MEM_TABLE and ADD_MEM_REG), or NONE. */
  VhostUserPayloadSpec  reply_payload;
  /* All of these must be negotiated for the request to be valid. */
  guint32               gate_protocol;
  guint64               gate_virtio;
  VhostUserGateFlags    gate_flags;
  /* For REPLY_ALWAYS: whether the reply can say "failed" (a non-zero u64,
   * a config of size 0, an empty inflight area). Without that form a
   * request that cannot be answered ends the connection. */
  gboolean              reply_can_fail;
  /* Protocol features the reply above depends on: without them the
   * request is only acknowledged like any other (SET_LOG_BASE answers
   * only with LOG_SHMFD). */
  guint32               reply_needs;
  /* For REPLY_ACK: NEED_REPLY is honoured even without REPLY_ACK
   * negotiated (QEMU asks for POSTCOPY_LISTEN's ack regardless, and
   * waits for it; libvhost-user always answers). */
  gboolean              ack_without_reply_ack;
  /* For REPLY_ALWAYS: the sender sets NEED_REPLY whatever was negotiated.
   * The reply is due anyway, but DPDK (22.11) sends IOTLB_MSG's only when
   * asked, and QEMU always asks. */
  gboolean              always_need_reply;
} VhostUserRequestInfo;

VhostUserReplyKind          vhost_user_request_info_get_reply (const VhostUserRequestInfo *info,
                                                               guint64                     protocol_features);

gboolean                    vhost_user_request_info_check_gate (const VhostUserRequestInfo *info,
                                                                VhostUserChannel            channel,
                                                                guint64                     protocol_features,
                                                                guint64                     features_offered,
                                                                guint64                     features_acked,
                                                                guint                       n_fds,
                                                                GError                    **error);
const VhostUserRequestInfo *vhost_user_request_info_lookup (VhostUserChannel  channel,
                                                            guint32           number);
const VhostUserRequestInfo *vhost_user_request_table       (VhostUserChannel  channel,
                                                            guint            *n_rows);
const char                 *vhost_user_channel_get_name    (VhostUserChannel  channel);
const char                 *vhost_user_request_get_name    (VhostUserChannel  channel,
                                                            guint32           number);

G_END_DECLS
