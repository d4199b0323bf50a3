/* vhost-user-request-table.c: every request of the protocol, as data
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One row per request: validation, tracing, gating and the back-end's
 * signals all read these rows, so adding a request is adding a row (and,
 * in the roles, its default handler). Sizes are payload bytes; fd counts
 * are the bounds a message may carry, refined by the payload itself where
 * a field says how many fds follow (memory table, no-fd bits).
 */

#include "config.h"

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

static const VhostUserRequestInfo main_requests[] = {
  { 0 },
  { 1, "GET_FEATURES", NULL, NOTHING, VHOST_USER_REPLY_ALWAYS, U64, 0, 0, 0 },
  { 2, "SET_FEATURES", NULL, U64, VHOST_USER_REPLY_ACK, NOTHING, 0, 0, 0 },
  { 3, "SET_OWNER", NULL, NOTHING, VHOST_USER_REPLY_ACK, NOTHING, 0, 0, 0 },
  { 4, "RESET_OWNER", NULL, NOTHING, VHOST_USER_REPLY_ACK, NOTHING, 0, 0, 0 },
  /* in postcopy the reply is the table with the back-end's own bases */
  { 5, "SET_MEM_TABLE", NULL, MEM_TABLE (VHOST_USER_MAX_MEM_TABLE_REGIONS),
    VHOST_USER_REPLY_ACK, MEM_TABLE (0), 0, 0, 0 },
  /* the spec's table says u64, but every front-end sends the 16-byte log
   * struct; with LOG_SHMFD it carries the log's fd and always gets a reply
   * (none in DPDK, 8 bytes in libvhost-user, 16 in rust-vmm), without it
   * neither */
  { 6, "SET_LOG_BASE", NULL, PAYLOAD (LOG, 16, 16, 0, 1),
    VHOST_USER_REPLY_ALWAYS, PAYLOAD (OPAQUE, 0, 16, 0, 0), 0, 0, 0, TRUE, P (LOG_SHMFD) },
  { 7, "SET_LOG_FD", NULL, NOTHING_FD, VHOST_USER_REPLY_ACK, NOTHING, 0, 0, 0 },
  { 8, "SET_VRING_NUM", NULL, VRING_STATE, VHOST_USER_REPLY_ACK, NOTHING, 0, 0, 0 },
  { 9, "SET_VRING_ADDR", NULL, PAYLOAD (VRING_ADDR, 40, 40, 0, 0), VHOST_USER_REPLY_ACK, NOTHING, 0, 0, 0 },
  { 10, "SET_VRING_BASE", NULL, VRING_STATE, VHOST_USER_REPLY_ACK, NOTHING, 0, 0, 0 },
  { 11, "GET_VRING_BASE", NULL, VRING_STATE, VHOST_USER_REPLY_ALWAYS, VRING_STATE, 0, 0, 0 },
  { 12, "SET_VRING_KICK", NULL, VRING_FD, VHOST_USER_REPLY_ACK, NOTHING, 0, 0, 0 },
  { 13, "SET_VRING_CALL", NULL, VRING_FD, VHOST_USER_REPLY_ACK, NOTHING, 0, 0, 0 },
  { 14, "SET_VRING_ERR", NULL, VRING_FD, VHOST_USER_REPLY_ACK, NOTHING, 0, 0, 0 },
  { 15, "GET_PROTOCOL_FEATURES", NULL, NOTHING, VHOST_USER_REPLY_ALWAYS, U64,
    0, V (PROTOCOL_FEATURES), VHOST_USER_GATE_VIRTIO_OFFERED },
  { 16, "SET_PROTOCOL_FEATURES", NULL, U64, VHOST_USER_REPLY_ACK, NOTHING,
    0, V (PROTOCOL_FEATURES), VHOST_USER_GATE_VIRTIO_OFFERED },
  { 17, "GET_QUEUE_NUM", NULL, NOTHING, VHOST_USER_REPLY_ALWAYS, U64, P (MQ), 0, 0 },
  { 18, "SET_VRING_ENABLE", NULL, VRING_STATE, VHOST_USER_REPLY_ACK, NOTHING, 0, V (PROTOCOL_FEATURES), 0 },
  { 19, "SEND_RARP", NULL, U64, VHOST_USER_REPLY_ACK, NOTHING, P (RARP), 0, 0 },
  { 20, "NET_SET_MTU", NULL, U64, VHOST_USER_REPLY_ACK, NOTHING, P (MTU), VIRTIO_NET_F_MTU_MASK, 0 },
  { 21, "SET_BACKEND_REQ_FD", "SET_SLAVE_REQ_FD", NOTHING_FD, VHOST_USER_REPLY_ACK, NOTHING, P (BACKEND_REQ), 0, 0 },
  { 22, "IOTLB_MSG", NULL, PAYLOAD (IOTLB, 32, 32, 0, 0), VHOST_USER_REPLY_ALWAYS, U64, 0, V (ACCESS_PLATFORM), 0, TRUE },
  { 23, "SET_VRING_ENDIAN", NULL, VRING_STATE, VHOST_USER_REPLY_ACK, NOTHING, P (CROSS_ENDIAN), 0, 0 },
  { 24, "GET_CONFIG", NULL, CONFIG, VHOST_USER_REPLY_ALWAYS, CONFIG, P (CONFIG), 0, 0, TRUE },
  { 25, "SET_CONFIG", NULL, CONFIG, VHOST_USER_REPLY_ACK, NOTHING, P (CONFIG), 0, 0 },
  { 26, "CREATE_CRYPTO_SESSION", NULL, PAYLOAD (OPAQUE, 1, VHOST_USER_MAX_PAYLOAD, 0, 0),
    VHOST_USER_REPLY_ALWAYS, PAYLOAD (OPAQUE, 8, VHOST_USER_MAX_PAYLOAD, 0, 0), P (CRYPTO_SESSION), 0, 0, TRUE },
  { 27, "CLOSE_CRYPTO_SESSION", NULL, U64, VHOST_USER_REPLY_ACK, NOTHING, P (CRYPTO_SESSION), 0, 0 },
  /* the userfaultfd comes back as an fd; none means it could not be opened */
  { 28, "POSTCOPY_ADVISE", NULL, NOTHING, VHOST_USER_REPLY_ALWAYS, PAYLOAD (OPAQUE, 0, 8, 0, 1), P (PAGEFAULT), 0, 0, TRUE },
  { 29, "POSTCOPY_LISTEN", NULL, NOTHING, VHOST_USER_REPLY_ACK, NOTHING, P (PAGEFAULT), 0, 0 },
  { 30, "POSTCOPY_END", NULL, NOTHING, VHOST_USER_REPLY_ALWAYS, U64, P (PAGEFAULT), 0, 0, TRUE },
  /* the spec's "N/A" fd column is wrong: the reply carries the memfd */
  { 31, "GET_INFLIGHT_FD", NULL, INFLIGHT (0, 0), VHOST_USER_REPLY_ALWAYS, INFLIGHT (0, 1), P (INFLIGHT_SHMFD), 0, 0, TRUE },
  { 32, "SET_INFLIGHT_FD", NULL, INFLIGHT (1, 1), VHOST_USER_REPLY_ACK, NOTHING, P (INFLIGHT_SHMFD), 0, 0 },
  { 33, "GPU_SET_SOCKET", NULL, NOTHING_FD, VHOST_USER_REPLY_ACK, NOTHING, 0, 0, 0 },
  { 34, "RESET_DEVICE", NULL, NOTHING, VHOST_USER_REPLY_ACK, NOTHING, P (RESET_DEVICE), 0, 0 },
  { 35, "VRING_KICK", NULL, VRING_STATE, VHOST_USER_REPLY_ACK, NOTHING, P (INBAND_NOTIFICATIONS), 0, 0 },
  { 36, "GET_MAX_MEM_SLOTS", NULL, NOTHING, VHOST_USER_REPLY_ALWAYS, U64, P (CONFIGURE_MEM_SLOTS), 0, 0 },
  { 37, "ADD_MEM_REG", NULL, SINGLE_REGION (1, 1), VHOST_USER_REPLY_ACK, SINGLE_REGION (0, 0),
    P (CONFIGURE_MEM_SLOTS), 0, 0 },
  /* a stray fd is allowed and closed */
  { 38, "REM_MEM_REG", NULL, SINGLE_REGION (0, 1), VHOST_USER_REPLY_ACK, NOTHING, P (CONFIGURE_MEM_SLOTS), 0, 0 },
  { 39, "SET_STATUS", NULL, U64, VHOST_USER_REPLY_ACK, NOTHING, P (STATUS), 0, 0 },
  { 40, "GET_STATUS", NULL, NOTHING, VHOST_USER_REPLY_ALWAYS, U64, P (STATUS), 0, 0 },
  { 41, "GET_SHARED_OBJECT", NULL, UUID, VHOST_USER_REPLY_ALWAYS, U64_MAYBE_FD, P (SHARED_OBJECT), 0, 0, TRUE },
  /* the back-end may answer with an fd of its own (reply bit 8 clear) */
  { 42, "SET_DEVICE_STATE_FD", NULL, PAYLOAD (DEVICE_STATE, 8, 8, 1, 1),
    VHOST_USER_REPLY_ALWAYS, U64_MAYBE_FD, P (DEVICE_STATE), 0, 0, TRUE },
  { 43, "CHECK_DEVICE_STATE", NULL, NOTHING, VHOST_USER_REPLY_ALWAYS, U64, P (DEVICE_STATE), 0, 0, TRUE },
  { 44, "GET_SHMEM_CONFIG", NULL, NOTHING, VHOST_USER_REPLY_ALWAYS,
    PAYLOAD (SHMEM_CONFIG, sizeof (VhostUserWireShmemConfig), sizeof (VhostUserWireShmemConfig), 0, 0),
    P (SHMEM), 0, 0 },
};

/* Every back-end request also needs BACKEND_REQ (the channel exists only
 * then), and any fd needs BACKEND_SEND_FD; the roles check both. */
static const VhostUserRequestInfo backend_requests[] = {
  { 0 },
  { 1, "BACKEND_IOTLB_MSG", "SLAVE_IOTLB_MSG", PAYLOAD (IOTLB, 32, 32, 0, 0),
    VHOST_USER_REPLY_ACK, NOTHING, P (BACKEND_REQ), V (ACCESS_PLATFORM), 0 },
  { 2, "BACKEND_CONFIG_CHANGE_MSG", "SLAVE_CONFIG_CHANGE_MSG", NOTHING,
    VHOST_USER_REPLY_ACK, NOTHING, P (BACKEND_REQ) | P (CONFIG), 0, 0 },
  { 3, "BACKEND_VRING_HOST_NOTIFIER_MSG", "SLAVE_VRING_HOST_NOTIFIER_MSG", PAYLOAD (VRING_AREA, 24, 24, 0, 1),
    VHOST_USER_REPLY_ACK, NOTHING, P (BACKEND_REQ) | P (HOST_NOTIFIER), 0, 0 },
  { 4, "BACKEND_VRING_CALL", "SLAVE_VRING_CALL", VRING_STATE,
    VHOST_USER_REPLY_ACK, NOTHING, P (BACKEND_REQ) | P (INBAND_NOTIFICATIONS), 0, 0 },
  { 5, "BACKEND_VRING_ERR", "SLAVE_VRING_ERR", VRING_STATE,
    VHOST_USER_REPLY_ACK, NOTHING, P (BACKEND_REQ) | P (INBAND_NOTIFICATIONS), 0, 0 },
  { 6, "BACKEND_SHARED_OBJECT_ADD", NULL, UUID,
    VHOST_USER_REPLY_ACK, NOTHING, P (BACKEND_REQ) | P (SHARED_OBJECT), 0, 0 },
  { 7, "BACKEND_SHARED_OBJECT_REMOVE", NULL, UUID,
    VHOST_USER_REPLY_ACK, NOTHING, P (BACKEND_REQ) | P (SHARED_OBJECT), 0, 0 },
  { 8, "BACKEND_SHARED_OBJECT_LOOKUP", NULL, UUID,
    VHOST_USER_REPLY_ALWAYS, U64_MAYBE_FD, P (BACKEND_REQ) | P (SHARED_OBJECT), 0, 0, TRUE },
  { 9, "BACKEND_SHMEM_MAP", NULL, PAYLOAD (SHMEM_MAP, 40, 40, 1, 1),
    VHOST_USER_REPLY_ACK, NOTHING, P (BACKEND_REQ) | P (SHMEM), 0, 0 },
  { 10, "BACKEND_SHMEM_UNMAP", NULL, PAYLOAD (SHMEM_MAP, 40, 40, 0, 0),
    VHOST_USER_REPLY_ACK, NOTHING, P (BACKEND_REQ) | P (SHMEM), 0, 0 },
};

G_STATIC_ASSERT (G_N_ELEMENTS (main_requests) == VHOST_USER_REQUEST_GET_SHMEM_CONFIG + 1);
G_STATIC_ASSERT (G_N_ELEMENTS (backend_requests) == VHOST_USER_BACKEND_REQUEST_SHMEM_UNMAP + 1);

VhostUserReplyKind
vhost_user_request_info_get_reply (const VhostUserRequestInfo *info,
                                   guint64                     protocol_features)
{
  if (info->reply_needs != 0 && (protocol_features & info->reply_needs) != info->reply_needs)
    return VHOST_USER_REPLY_ACK;
  return info->reply;
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
 */
const char *
vhost_user_backend_request_type_get_name (VhostUserBackendRequestType request)
{
  return vhost_user_request_get_name (VHOST_USER_CHANNEL_BACKEND, request);
}
