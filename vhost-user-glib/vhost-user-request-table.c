/* vhost-user-request-table.c: every request of the protocol, as data
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One row per request and direction: the codec's validation, tracing,
 * gating, and both roles' signals (registered and emitted from the row's
 * nick and shape) all read these rows, so adding a request is an enum
 * value, a row here and the receiving role's default handler. Sizes are
 * payload bytes; fd counts are the bounds a message may carry, refined by
 * the payload itself where a field says how many fds follow (memory
 * table, no-fd bits). See docs/architecture.md, "Adding a request".
 */

#include "config.h"

#include "vhost-user-error.h"
#include "vhost-user-request-table-private.h"

#define PAYLOAD(kind, min, max, min_fds, max_fds) \
  { VHOST_USER_PAYLOAD_##kind, (min), (max), (min_fds), (max_fds) }
#define NOTHING             PAYLOAD (NONE, 0, 0, 0, 0)
#define NOTHING_FD          PAYLOAD (NONE, 0, 0, 1, 1)
#define U64                 PAYLOAD (U64, 8, 8, 0, 0)
#define U64_MAYBE_FD        PAYLOAD (U64, 8, 8, 0, 1)
#define VRING_STATE         PAYLOAD (VRING_STATE, 8, 8, 0, 0)
#define VRING_FD            PAYLOAD (VRING_FD, 8, 8, 0, 1)
#define UUID                PAYLOAD (UUID, 16, 16, 0, 0)
#define CONFIG              PAYLOAD (CONFIG, VHOST_USER_CONFIG_HEADER_SIZE, VHOST_USER_MAX_PAYLOAD, 0, 0)
#define MEM_TABLE(fds)      PAYLOAD (MEM_TABLE, sizeof (VhostUserWireMemoryTableHeader), \
                                     sizeof (VhostUserWireMemoryTableHeader) + \
                                     VHOST_USER_MAX_MEM_TABLE_REGIONS * sizeof (VhostUserWireXenMemoryRegion), \
                                     0, (fds))
#define SINGLE_REGION(a, b) PAYLOAD (SINGLE_REGION, sizeof (VhostUserWireSingleRegion), \
                                     sizeof (VhostUserWireXenSingleRegion), (a), (b))
#define INFLIGHT(a, b)      PAYLOAD (INFLIGHT, sizeof (VhostUserWireInflight), sizeof (VhostUserWireInflight), (a), (b))

#define P(feature) VHOST_USER_PROTOCOL_FEATURE_##feature
#define V(bit)     VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_##bit)

/* VIRTIO_NET_F_MTU: the only device-type bit the protocol gates on */
#define VIRTIO_NET_F_MTU_MASK VHOST_USER_FEATURE (3)

#define SHAPE(s)   VHOST_USER_SHAPE_##s
#define ACK        VHOST_USER_REPLY_ACK
#define ALWAYS     VHOST_USER_REPLY_ALWAYS

/* Rows are indexed by number; row 0 is left empty. */
#define MAIN(id, nick_, ...) \
  [VHOST_USER_REQUEST_##id] = { .number = VHOST_USER_REQUEST_##id, .name = #id, .nick = nick_, __VA_ARGS__ }
#define BACKEND(id, nick_, ...) \
  [VHOST_USER_BACKEND_REQUEST_##id] = { .number = VHOST_USER_BACKEND_REQUEST_##id, .name = "BACKEND_" #id, \
                                        .nick = nick_, __VA_ARGS__ }

static const VhostUserRequestInfo main_requests[] = {
  MAIN (GET_FEATURES, "get-features", .shape = SHAPE (NONE), .request = NOTHING, .reply = ALWAYS,
        .reply_payload = U64),
  MAIN (SET_FEATURES, "set-features", .shape = SHAPE (U64), .request = U64, .reply = ACK),
  MAIN (SET_OWNER, "set-owner", .shape = SHAPE (NONE), .request = NOTHING, .reply = ACK),
  MAIN (RESET_OWNER, "reset-owner", .shape = SHAPE (NONE), .request = NOTHING, .reply = ACK),
  /* in postcopy the reply is the table with the back-end's own bases */
  MAIN (SET_MEM_TABLE, "set-mem-table", .shape = SHAPE (MEM_TABLE),
        .request = MEM_TABLE (VHOST_USER_MAX_MEM_TABLE_REGIONS), .reply = ACK, .reply_payload = MEM_TABLE (0)),
  /* the spec's table says u64, but every front-end sends the 16-byte log
   * struct; with LOG_SHMFD it carries the log's fd and always gets a reply
   * (none in DPDK, 8 bytes in libvhost-user, 16 in rust-vmm), without it
   * neither */
  MAIN (SET_LOG_BASE, "set-log-base", .shape = SHAPE (LOG), .request = PAYLOAD (LOG, 16, 16, 0, 1),
        .reply = ALWAYS, .reply_payload = PAYLOAD (OPAQUE, 0, 16, 0, 0), .reply_can_fail = TRUE,
        .reply_needs = P (LOG_SHMFD)),
  MAIN (SET_LOG_FD, "set-log-fd", .shape = SHAPE (EVENTFD), .request = NOTHING_FD, .reply = ACK),
  MAIN (SET_VRING_NUM, "set-vring-num", .shape = SHAPE (VRING_SIZE), .request = VRING_STATE, .reply = ACK),
  MAIN (SET_VRING_ADDR, "set-vring-addr", .shape = SHAPE (VRING_ADDR),
        .request = PAYLOAD (VRING_ADDR, 40, 40, 0, 0), .reply = ACK),
  MAIN (SET_VRING_BASE, "set-vring-base", .shape = SHAPE (INDEX_NUM), .request = VRING_STATE, .reply = ACK),
  MAIN (GET_VRING_BASE, "get-vring-base", .shape = SHAPE (INDEX), .request = VRING_STATE, .reply = ALWAYS,
        .reply_payload = VRING_STATE),
  MAIN (SET_VRING_KICK, "set-vring-kick", .shape = SHAPE (INDEX_FD), .request = VRING_FD, .reply = ACK),
  MAIN (SET_VRING_CALL, "set-vring-call", .shape = SHAPE (INDEX_FD), .request = VRING_FD, .reply = ACK),
  MAIN (SET_VRING_ERR, "set-vring-err", .shape = SHAPE (INDEX_FD), .request = VRING_FD, .reply = ACK),
  MAIN (GET_PROTOCOL_FEATURES, "get-protocol-features", .shape = SHAPE (NONE), .request = NOTHING,
        .reply = ALWAYS, .reply_payload = U64, .gate_virtio = V (PROTOCOL_FEATURES),
        .gate_flags = VHOST_USER_GATE_VIRTIO_OFFERED),
  MAIN (SET_PROTOCOL_FEATURES, "set-protocol-features", .shape = SHAPE (U64), .request = U64, .reply = ACK,
        .gate_virtio = V (PROTOCOL_FEATURES), .gate_flags = VHOST_USER_GATE_VIRTIO_OFFERED),
  MAIN (GET_QUEUE_NUM, "get-queue-num", .shape = SHAPE (NONE), .request = NOTHING, .reply = ALWAYS,
        .reply_payload = U64, .gate_protocol = P (MQ)),
  MAIN (SET_VRING_ENABLE, "set-vring-enable", .shape = SHAPE (INDEX_BOOL), .request = VRING_STATE, .reply = ACK,
        .gate_virtio = V (PROTOCOL_FEATURES), .gate_flags = VHOST_USER_GATE_VIRTIO_OFFERED_UNTIL_ACKED),
  MAIN (SEND_RARP, "send-rarp", .shape = SHAPE (U64), .request = U64, .reply = ACK, .gate_protocol = P (RARP)),
  MAIN (NET_SET_MTU, "net-set-mtu", .shape = SHAPE (U64), .request = U64, .reply = ACK, .gate_protocol = P (MTU),
        .gate_virtio = VIRTIO_NET_F_MTU_MASK),
  MAIN (SET_BACKEND_REQ_FD, "set-backend-req-fd", .shape = SHAPE (FD), .old_name = "SET_SLAVE_REQ_FD",
        .request = NOTHING_FD, .reply = ACK, .gate_protocol = P (BACKEND_REQ)),
  MAIN (IOTLB_MSG, "iotlb-msg", .shape = SHAPE (IOTLB), .request = PAYLOAD (IOTLB, 32, 32, 0, 0),
        .reply = ALWAYS, .reply_payload = U64, .gate_virtio = V (ACCESS_PLATFORM), .reply_can_fail = TRUE,
        .always_need_reply = TRUE),
  MAIN (SET_VRING_ENDIAN, "set-vring-endian", .shape = SHAPE (INDEX_NUM), .request = VRING_STATE, .reply = ACK,
        .gate_protocol = P (CROSS_ENDIAN)),
  MAIN (GET_CONFIG, "get-config", .shape = SHAPE (CONFIG_GET), .request = CONFIG, .reply = ALWAYS,
        .reply_payload = CONFIG, .gate_protocol = P (CONFIG), .reply_can_fail = TRUE),
  MAIN (SET_CONFIG, "set-config", .shape = SHAPE (CONFIG_SET), .request = CONFIG, .reply = ACK,
        .gate_protocol = P (CONFIG)),
  MAIN (CREATE_CRYPTO_SESSION, "create-crypto-session", .shape = SHAPE (BYTES),
        .request = PAYLOAD (OPAQUE, 1, VHOST_USER_MAX_PAYLOAD, 0, 0), .reply = ALWAYS,
        .reply_payload = PAYLOAD (OPAQUE, 8, VHOST_USER_MAX_PAYLOAD, 0, 0), .gate_protocol = P (CRYPTO_SESSION),
        .reply_can_fail = TRUE),
  MAIN (CLOSE_CRYPTO_SESSION, "close-crypto-session", .shape = SHAPE (U64), .request = U64, .reply = ACK,
        .gate_protocol = P (CRYPTO_SESSION)),
  /* the userfaultfd comes back as an fd; none means it could not be opened */
  MAIN (POSTCOPY_ADVISE, "postcopy-advise", .shape = SHAPE (NONE), .request = NOTHING, .reply = ALWAYS,
        .reply_payload = PAYLOAD (OPAQUE, 0, 8, 0, 1), .gate_protocol = P (PAGEFAULT), .reply_can_fail = TRUE),
  MAIN (POSTCOPY_LISTEN, "postcopy-listen", .shape = SHAPE (NONE), .request = NOTHING, .reply = ACK,
        .gate_protocol = P (PAGEFAULT), .ack_without_reply_ack = TRUE),
  MAIN (POSTCOPY_END, "postcopy-end", .shape = SHAPE (NONE), .request = NOTHING, .reply = ALWAYS,
        .reply_payload = U64, .gate_protocol = P (PAGEFAULT), .reply_can_fail = TRUE),
  /* the spec's "N/A" fd column is wrong: the reply carries the memfd */
  MAIN (GET_INFLIGHT_FD, "get-inflight-fd", .shape = SHAPE (INFLIGHT_GET), .request = INFLIGHT (0, 0),
        .reply = ALWAYS, .reply_payload = INFLIGHT (0, 1), .gate_protocol = P (INFLIGHT_SHMFD),
        .reply_can_fail = TRUE),
  MAIN (SET_INFLIGHT_FD, "set-inflight-fd", .shape = SHAPE (INFLIGHT_SET), .request = INFLIGHT (1, 1),
        .reply = ACK, .gate_protocol = P (INFLIGHT_SHMFD)),
  MAIN (GPU_SET_SOCKET, "gpu-set-socket", .shape = SHAPE (FD), .request = NOTHING_FD, .reply = ACK),
  MAIN (RESET_DEVICE, "reset-device", .shape = SHAPE (NONE), .request = NOTHING, .reply = ACK,
        .gate_protocol = P (RESET_DEVICE)),
  MAIN (VRING_KICK, "vring-kick", .shape = SHAPE (INDEX), .request = VRING_STATE, .reply = ACK,
        .gate_protocol = P (INBAND_NOTIFICATIONS)),
  MAIN (GET_MAX_MEM_SLOTS, "get-max-mem-slots", .shape = SHAPE (NONE), .request = NOTHING, .reply = ALWAYS,
        .reply_payload = U64, .gate_protocol = P (CONFIGURE_MEM_SLOTS)),
  MAIN (ADD_MEM_REG, "add-mem-reg", .shape = SHAPE (REGION), .request = SINGLE_REGION (1, 1), .reply = ACK,
        .reply_payload = SINGLE_REGION (0, 0), .gate_protocol = P (CONFIGURE_MEM_SLOTS)),
  /* a stray fd is allowed and closed */
  MAIN (REM_MEM_REG, "rem-mem-reg", .shape = SHAPE (REGION_DESC), .request = SINGLE_REGION (0, 1), .reply = ACK,
        .gate_protocol = P (CONFIGURE_MEM_SLOTS)),
  MAIN (SET_STATUS, "set-status", .shape = SHAPE (U64), .request = U64, .reply = ACK,
        .gate_protocol = P (STATUS)),
  MAIN (GET_STATUS, "get-status", .shape = SHAPE (NONE), .request = NOTHING, .reply = ALWAYS,
        .reply_payload = U64, .gate_protocol = P (STATUS)),
  MAIN (GET_SHARED_OBJECT, "get-shared-object", .shape = SHAPE (UUID), .request = UUID, .reply = ALWAYS,
        .reply_payload = U64_MAYBE_FD, .gate_protocol = P (SHARED_OBJECT), .reply_can_fail = TRUE),
  /* the back-end may answer with an fd of its own (reply bit 8 clear) */
  MAIN (SET_DEVICE_STATE_FD, "set-device-state-fd", .shape = SHAPE (DEVICE_STATE),
        .request = PAYLOAD (DEVICE_STATE, 8, 8, 1, 1), .reply = ALWAYS, .reply_payload = U64_MAYBE_FD,
        .gate_protocol = P (DEVICE_STATE), .reply_can_fail = TRUE),
  MAIN (CHECK_DEVICE_STATE, "check-device-state", .shape = SHAPE (NONE), .request = NOTHING, .reply = ALWAYS,
        .reply_payload = U64, .gate_protocol = P (DEVICE_STATE), .reply_can_fail = TRUE),
  MAIN (GET_SHMEM_CONFIG, "get-shmem-config", .shape = SHAPE (NONE), .request = NOTHING, .reply = ALWAYS,
        .reply_payload = PAYLOAD (SHMEM_CONFIG, sizeof (VhostUserWireShmemConfig), sizeof (VhostUserWireShmemConfig), 0, 0),
        .gate_protocol = P (SHMEM)),
  /* proposed for QEMU: GET_VRING_BASE that leaves requests in flight to
   * the in-flight area instead of completing them */
  MAIN (GET_VRING_BASE_SKIP_DRAIN, "get-vring-base-skip-drain", .shape = SHAPE (INDEX), .request = VRING_STATE,
        .reply = ALWAYS, .reply_payload = VRING_STATE, .gate_protocol = P (GET_VRING_BASE_SKIP_DRAIN)),
};

/* Every back-end request also needs BACKEND_REQ (the channel exists only
 * then), and any fd needs BACKEND_SEND_FD; the responder checks both. */
static const VhostUserRequestInfo backend_requests[] = {
  BACKEND (IOTLB_MSG, "iotlb-msg", .shape = SHAPE (IOTLB), .old_name = "SLAVE_IOTLB_MSG",
           .request = PAYLOAD (IOTLB, 32, 32, 0, 0), .reply = ACK, .gate_protocol = P (BACKEND_REQ),
           .gate_virtio = V (ACCESS_PLATFORM)),
  BACKEND (CONFIG_CHANGE_MSG, "config-change-msg", .shape = SHAPE (NONE), .old_name = "SLAVE_CONFIG_CHANGE_MSG",
           .request = NOTHING, .reply = ACK, .gate_protocol = P (BACKEND_REQ) | P (CONFIG)),
  BACKEND (VRING_HOST_NOTIFIER_MSG, "vring-host-notifier-msg", .shape = SHAPE (VRING_AREA),
           .old_name = "SLAVE_VRING_HOST_NOTIFIER_MSG", .request = PAYLOAD (VRING_AREA, 24, 24, 0, 1),
           .reply = ACK, .gate_protocol = P (BACKEND_REQ) | P (HOST_NOTIFIER)),
  BACKEND (VRING_CALL, "vring-call", .shape = SHAPE (INDEX), .old_name = "SLAVE_VRING_CALL",
           .request = VRING_STATE, .reply = ACK, .gate_protocol = P (BACKEND_REQ) | P (INBAND_NOTIFICATIONS)),
  BACKEND (VRING_ERR, "vring-err", .shape = SHAPE (INDEX), .old_name = "SLAVE_VRING_ERR", .request = VRING_STATE,
           .reply = ACK, .gate_protocol = P (BACKEND_REQ) | P (INBAND_NOTIFICATIONS)),
  BACKEND (SHARED_OBJECT_ADD, "shared-object-add", .shape = SHAPE (UUID), .request = UUID, .reply = ACK,
           .gate_protocol = P (BACKEND_REQ) | P (SHARED_OBJECT)),
  BACKEND (SHARED_OBJECT_REMOVE, "shared-object-remove", .shape = SHAPE (UUID), .request = UUID, .reply = ACK,
           .gate_protocol = P (BACKEND_REQ) | P (SHARED_OBJECT)),
  BACKEND (SHARED_OBJECT_LOOKUP, "shared-object-lookup", .shape = SHAPE (UUID), .request = UUID, .reply = ALWAYS,
           .reply_payload = U64_MAYBE_FD, .gate_protocol = P (BACKEND_REQ) | P (SHARED_OBJECT),
           .reply_can_fail = TRUE),
  BACKEND (SHMEM_MAP, "shmem-map", .shape = SHAPE (SHMEM_MAP), .request = PAYLOAD (SHMEM_MAP, 40, 40, 1, 1),
           .reply = ACK, .gate_protocol = P (BACKEND_REQ) | P (SHMEM)),
  BACKEND (SHMEM_UNMAP, "shmem-unmap", .shape = SHAPE (SHMEM_UNMAP),
           .request = PAYLOAD (SHMEM_MAP, 40, 40, 0, 0), .reply = ACK,
           .gate_protocol = P (BACKEND_REQ) | P (SHMEM)),
};

G_STATIC_ASSERT (G_N_ELEMENTS (main_requests) == VHOST_USER_LAST_REQUEST + 1);
G_STATIC_ASSERT (G_N_ELEMENTS (backend_requests) == VHOST_USER_LAST_BACKEND_REQUEST + 1);

VhostUserReplyKind
vhost_user_request_info_get_reply (const VhostUserRequestInfo *info,
                                   guint64                     protocol_features)
{
  if (info->reply_needs != 0 && (protocol_features & info->reply_needs) != info->reply_needs)
    return VHOST_USER_REPLY_ACK;
  return info->reply;
}

/* Whether what was negotiated lets @info's request through, as either
 * side sees it: the sender before sending, the receiver before handling.
 * The back-end channel passes fds only with BACKEND_SEND_FD. */
gboolean
vhost_user_request_info_check_gate (const VhostUserRequestInfo  *info,
                                    VhostUserChannel             channel,
                                    guint64                      protocol_features,
                                    guint64                      features_offered,
                                    guint64                      features_acked,
                                    guint                        n_fds,
                                    GError                     **error)
{
  guint64 virtio = features_acked;

  if ((info->gate_flags & VHOST_USER_GATE_VIRTIO_OFFERED) ||
      ((info->gate_flags & VHOST_USER_GATE_VIRTIO_OFFERED_UNTIL_ACKED) && features_acked == 0))
    virtio = features_offered;

  if ((info->gate_protocol & protocol_features) != info->gate_protocol ||
      (info->gate_virtio & virtio) != info->gate_virtio)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "%s needs a feature that was not negotiated", info->name);
      return FALSE;
    }
  if (channel == VHOST_USER_CHANNEL_BACKEND && n_fds > 0 &&
      !(protocol_features & VHOST_USER_PROTOCOL_FEATURE_BACKEND_SEND_FD))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION,
                   "%s: passing fds on the back-end channel needs BACKEND_SEND_FD", info->name);
      return FALSE;
    }
  return TRUE;
}

const VhostUserRequestInfo *
vhost_user_request_table (VhostUserChannel  channel,
                          guint            *n_rows)
{
  if (channel == VHOST_USER_CHANNEL_BACKEND)
    {
      *n_rows = G_N_ELEMENTS (backend_requests);
      return backend_requests;
    }
  *n_rows = G_N_ELEMENTS (main_requests);
  return main_requests;
}

/* Row 0 is a placeholder so that rows are indexed by request number. */
const VhostUserRequestInfo *
vhost_user_request_info_lookup (VhostUserChannel channel,
                                guint32          number)
{
  const VhostUserRequestInfo *table;
  guint n_rows;

  table = vhost_user_request_table (channel, &n_rows);
  if (number == 0 || number >= n_rows)
    return NULL;
  return &table[number];
}

const char *
vhost_user_channel_get_name (VhostUserChannel channel)
{
  return channel == VHOST_USER_CHANNEL_BACKEND ? "back-end channel" : "main";
}

const char *
vhost_user_request_get_name (VhostUserChannel channel,
                             guint32          number)
{
  const VhostUserRequestInfo *info = vhost_user_request_info_lookup (channel, number);

  return info != NULL ? info->name : NULL;
}

/**
 * vhost_user_request_type_get_name:
 * @request: a front-end request
 *
 * The request's name as the vhost-user specification writes it, such as
 * `"SET_BACKEND_REQ_FD"` (without the `VHOST_USER_` prefix).
 *
 * Returns: (nullable): the name, or %NULL if @request is not a request
 *   of the protocol
 *
 * Since: 1.0
 */
const char *
vhost_user_request_type_get_name (VhostUserRequestType request)
{
  return vhost_user_request_get_name (VHOST_USER_CHANNEL_MAIN, request);
}

/**
 * vhost_user_backend_request_type_get_name:
 * @request: a back-end channel request
 *
 * The request's name as the vhost-user specification writes it, such as
 * `"BACKEND_CONFIG_CHANGE_MSG"` (the old name was
 * `SLAVE_CONFIG_CHANGE_MSG`).
 *
 * Returns: (nullable): the name, or %NULL if @request is not a request
 *   of the back-end channel
 *
 * Since: 1.0
 */
const char *
vhost_user_backend_request_type_get_name (VhostUserBackendRequestType request)
{
  return vhost_user_request_get_name (VHOST_USER_CHANNEL_BACKEND, request);
}
