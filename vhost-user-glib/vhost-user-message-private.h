/* vhost-user-message-private.h: one framed message and its codec
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

#include "vhost-user-request-table-private.h"

G_BEGIN_DECLS

/* A message exactly as it travels: the header and payload are contiguous,
 * so header + payload[0 .. size) is the byte stream to send. It lives
 * inline (no allocation per message) and owns its fds: whatever is not
 * stolen is closed by vhost_user_message_clear(). */
typedef struct {
  VhostUserWireHeader header;
  guint8              payload[VHOST_USER_MAX_PAYLOAD];
  int                 fds[VHOST_USER_MAX_FDS];
  guint               n_fds;
} VhostUserMessage;

G_STATIC_ASSERT (G_STRUCT_OFFSET (VhostUserMessage, payload) == VHOST_USER_HEADER_SIZE);

#define VHOST_USER_MESSAGE_INIT { { 0, VHOST_USER_PROTOCOL_VERSION, 0 }, { 0 }, { -1, -1, -1, -1, -1, -1, -1, -1 }, 0 }

void      vhost_user_message_init            (VhostUserMessage       *msg,
                                              guint32                 request,
                                              guint32                 flags);
void      vhost_user_message_init_reply      (VhostUserMessage       *reply,
                                              const VhostUserMessage *request);
void      vhost_user_message_clear           (VhostUserMessage       *msg);
void      vhost_user_message_move            (VhostUserMessage       *dest,
                                              VhostUserMessage       *src);

/* header */
static inline gboolean
vhost_user_message_is_reply (const VhostUserMessage *msg)
{
  return (msg->header.flags & VHOST_USER_FLAG_REPLY) != 0;
}

static inline gboolean
vhost_user_message_needs_reply (const VhostUserMessage *msg)
{
  return (msg->header.flags & VHOST_USER_FLAG_NEED_REPLY) != 0;
}

/* codec: pure functions over bytes */
gssize    vhost_user_message_bytes_needed    (const guint8           *buf,
                                              gsize                   len,
                                              GError                **error);
gboolean  vhost_user_message_check_header    (const VhostUserWireHeader *header,
                                              gboolean                expect_reply,
                                              GError                **error);
gboolean  vhost_user_message_validate        (const VhostUserMessage *msg,
                                              VhostUserChannel        channel,
                                              guint64                 protocol_features,
                                              GError                **error);
gboolean  vhost_user_message_parse           (VhostUserMessage       *msg,
                                              const guint8           *buf,
                                              gsize                   len,
                                              const int              *fds,
                                              guint                   n_fds,
                                              VhostUserChannel        channel,
                                              gboolean                expect_reply,
                                              guint64                 protocol_features,
                                              GError                **error);
const guint8 *vhost_user_message_get_data    (const VhostUserMessage *msg,
                                              gsize                  *len);
gsize     vhost_user_message_serialize       (const VhostUserMessage *msg,
                                              guint8                 *buf,
                                              gsize                   buf_len);

/* fds */
gboolean  vhost_user_message_add_fd          (VhostUserMessage       *msg,
                                              int                     fd);
int       vhost_user_message_steal_fd        (VhostUserMessage       *msg,
                                              guint                   index);
void      vhost_user_message_close_fds       (VhostUserMessage       *msg);

/* payload writers */
gboolean  vhost_user_message_set_payload     (VhostUserMessage       *msg,
                                              gconstpointer           data,
                                              gsize                   size);
void      vhost_user_message_set_u64         (VhostUserMessage       *msg,
                                              guint64                 value);
void      vhost_user_message_set_vring_state (VhostUserMessage       *msg,
                                              guint32                 index,
                                              guint32                 num);
void      vhost_user_message_set_vring_fd    (VhostUserMessage       *msg,
                                              guint                   index,
                                              int                     fd);
gboolean  vhost_user_message_set_mem_table   (VhostUserMessage       *msg,
                                              const VhostUserWireXenMemoryRegion *regions,
                                              guint                   n_regions,
                                              gboolean                xen);
void      vhost_user_message_set_single_region (VhostUserMessage     *msg,
                                              const VhostUserWireXenMemoryRegion *region,
                                              gboolean                xen);
gboolean  vhost_user_message_set_config      (VhostUserMessage       *msg,
                                              guint32                 offset,
                                              guint32                 flags,
                                              const guint8           *data,
                                              guint32                 size);

/* typed payload readers: each checks the payload's size first */
gboolean  vhost_user_message_get_u64         (const VhostUserMessage *msg,
                                              guint64                *value);
gboolean  vhost_user_message_get_vring_state (const VhostUserMessage *msg,
                                              guint32                *index,
                                              guint32                *num);
gboolean  vhost_user_message_get_vring_addr  (const VhostUserMessage *msg,
                                              VhostUserWireVringAddr *addr);
gboolean  vhost_user_message_get_vring_fd    (const VhostUserMessage *msg,
                                              guint                  *index,
                                              gboolean               *no_fd);
guint     vhost_user_message_get_mem_table_n_regions (const VhostUserMessage *msg);
gboolean  vhost_user_message_get_mem_table_region (const VhostUserMessage *msg,
                                              guint                   i,
                                              VhostUserWireXenMemoryRegion *region);
gboolean  vhost_user_message_get_single_region (const VhostUserMessage *msg,
                                              VhostUserWireXenMemoryRegion *region);
gboolean  vhost_user_message_get_log         (const VhostUserMessage *msg,
                                              VhostUserWireLog       *log);
gboolean  vhost_user_message_get_iotlb       (const VhostUserMessage *msg,
                                              VhostUserWireIotlb     *iotlb);
gboolean  vhost_user_message_get_config      (const VhostUserMessage *msg,
                                              guint32                *offset,
                                              guint32                *flags,
                                              const guint8          **data,
                                              guint32                *size);
gboolean  vhost_user_message_get_vring_area  (const VhostUserMessage *msg,
                                              guint                  *index,
                                              gboolean               *no_fd,
                                              guint64                *size,
                                              guint64                *offset);
gboolean  vhost_user_message_get_inflight    (const VhostUserMessage *msg,
                                              VhostUserWireInflight  *inflight);
gboolean  vhost_user_message_get_uuid        (const VhostUserMessage *msg,
                                              guint8                  uuid[16]);
char     *vhost_user_message_get_uuid_string (const VhostUserMessage *msg);
char     *vhost_user_uuid_to_string           (const guint8            uuid[16]);
gboolean  vhost_user_uuid_parse               (const char             *text,
                                              guint8                  uuid[16],
                                              GError                **error);
gboolean  vhost_user_message_get_device_state (const VhostUserMessage *msg,
                                              guint32                *direction,
                                              guint32                *phase);
gboolean  vhost_user_message_get_shmem_map   (const VhostUserMessage *msg,
                                              VhostUserWireShmemMap  *map);
gboolean  vhost_user_message_get_shmem_config (const VhostUserMessage *msg,
                                              VhostUserWireShmemConfig *config);

/* the layouts a message's fields are written in, for writers of structs
 * (log, iotlb, inflight, …) that go out as they are */
#define vhost_user_message_set_struct(msg, ptr) \
  vhost_user_message_set_payload ((msg), (ptr), sizeof *(ptr))

/* tracing */
void      vhost_user_message_describe        (const VhostUserMessage *msg,
                                              VhostUserChannel        channel,
                                              GString                *out);
void      vhost_user_message_describe_fields (const VhostUserMessage *msg,
                                              VhostUserChannel        channel,
                                              GString                *out);

G_END_DECLS
