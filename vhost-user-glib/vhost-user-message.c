/* vhost-user-message.c: one framed message and its codec
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Pure functions over bytes: how much of a message is still missing,
 * whether a header and payload are acceptable against the request table,
 * and typed access to each payload layout. Nothing here touches a socket,
 * so the fuzz targets and the hostile-input tests drive it directly.
 */

#include "config.h"

#include <string.h>
#include <glib/gstdio.h>

#include "vhost-user-error.h"
#include "vhost-user-message-private.h"
#include "vhost-user-peer-fd-private.h"

void
vhost_user_message_init (VhostUserMessage *msg,
                         guint32           request,
                         guint32           flags)
{
  msg->header.request = request;
  msg->header.flags = VHOST_USER_PROTOCOL_VERSION | flags;
  msg->header.size = 0;
  msg->n_fds = 0;
}

void
vhost_user_message_init_reply (VhostUserMessage       *reply,
                               const VhostUserMessage *request)
{
  /* never NEED_REPLY on a reply */
  vhost_user_message_init (reply, request->header.request, VHOST_USER_FLAG_REPLY);
}

void
vhost_user_message_close_fds (VhostUserMessage *msg)
{
  for (guint i = 0; i < msg->n_fds; i++)
    {
      if (msg->fds[i] >= 0)
        vhost_user_peer_fd_close (msg->fds[i]);
      msg->fds[i] = -1;
    }
  msg->n_fds = 0;
}

void
vhost_user_message_clear (VhostUserMessage *msg)
{
  vhost_user_message_close_fds (msg);
  msg->header.request = 0;
  msg->header.flags = VHOST_USER_PROTOCOL_VERSION;
  msg->header.size = 0;
}

/* Moves header, payload and fd ownership; @src is left empty. */
void
vhost_user_message_move (VhostUserMessage *dest,
                         VhostUserMessage *src)
{
  dest->header = src->header;
  memcpy (dest->payload, src->payload, MIN (src->header.size, sizeof src->payload));
  memcpy (dest->fds, src->fds, sizeof src->fds);
  dest->n_fds = src->n_fds;
  src->n_fds = 0;
  src->header.size = 0;
}

gboolean
vhost_user_message_add_fd (VhostUserMessage *msg,
                           int               fd)
{
  if (msg->n_fds >= VHOST_USER_MAX_FDS)
    return FALSE;
  msg->fds[msg->n_fds++] = fd;
  return TRUE;
}

/* Takes fd @index out of the message; the caller owns it, and clearing
 * the message leaves it open. -1 if there is no such fd. */
int
vhost_user_message_steal_fd (VhostUserMessage *msg,
                             guint             index)
{
  int fd;

  if (index >= msg->n_fds)
    return -1;
  fd = msg->fds[index];
  msg->fds[index] = -1;
  return fd;
}

gssize
vhost_user_message_bytes_needed (const guint8  *buf,
                                  gsize          len,
                                  GError       **error)
{
  VhostUserWireHeader header;
  gsize total;

  if (len < VHOST_USER_HEADER_SIZE)
    return VHOST_USER_HEADER_SIZE - len;

  memcpy (&header, buf, sizeof header);
  if (header.size > VHOST_USER_MAX_PAYLOAD)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_OVERSIZED_MESSAGE,
                   "Message %u announces %u payload bytes, more than the %u any request takes",
                   header.request, header.size, VHOST_USER_MAX_PAYLOAD);
      return -1;
    }

  total = VHOST_USER_HEADER_SIZE + header.size;
  return total > len ? (gssize) (total - len) : 0;
}

gboolean
vhost_user_message_check_header (const VhostUserWireHeader  *header,
                                 gboolean                    expect_reply,
                                 GError                    **error)
{
  guint32 version = header->flags & VHOST_USER_VERSION_MASK;
  gboolean is_reply = (header->flags & VHOST_USER_FLAG_REPLY) != 0;

  expect_reply = !!expect_reply;

  if (version != VHOST_USER_PROTOCOL_VERSION)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                   "Message %u has protocol version %u, only version %u exists",
                   header->request, version, VHOST_USER_PROTOCOL_VERSION);
      return FALSE;
    }

  if (header->flags & VHOST_USER_FLAGS_RESERVED)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                   "Message %u sets reserved flag bits 0x%x",
                   header->request, header->flags & VHOST_USER_FLAGS_RESERVED);
      return FALSE;
    }

  if (is_reply != expect_reply)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                   expect_reply ? "Message %u is a request where a reply was expected"
                                : "Message %u is a reply where a request was expected",
                   header->request);
      return FALSE;
    }

  if (is_reply && (header->flags & VHOST_USER_FLAG_NEED_REPLY))
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                   "Reply to message %u asks for a reply itself", header->request);
      return FALSE;
    }

  if (header->size > VHOST_USER_MAX_PAYLOAD)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_OVERSIZED_MESSAGE,
                   "Message %u announces %u payload bytes, more than the %u any request takes",
                   header->request, header->size, VHOST_USER_MAX_PAYLOAD);
      return FALSE;
    }

  return TRUE;
}

static gboolean
check_fd_count (const VhostUserMessage  *msg,
                const char              *name,
                guint                    min_fds,
                guint                    max_fds,
                GError                 **error)
{
  if (msg->n_fds < min_fds || msg->n_fds > max_fds)
    {
      if (min_fds == max_fds)
        g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS,
                     "%s carries %u file descriptors, it takes %u",
                     name, msg->n_fds, min_fds);
      else
        g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS,
                     "%s carries %u file descriptors, it takes %u to %u",
                     name, msg->n_fds, min_fds, max_fds);
      return FALSE;
    }
  return TRUE;
}

static gboolean
invalid (GError     **error,
         const char  *name,
         const char  *what)
{
  g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
               "%s: %s", name, what);
  return FALSE;
}

/* The checks a payload kind makes beyond the row's bounds: fields that
 * say how long the payload is or how many fds come with it. */
static gboolean
validate_payload (const VhostUserMessage      *msg,
                  const char                  *name,
                  const VhostUserPayloadSpec  *spec,
                  gboolean                     is_reply,
                  guint64                      protocol_features,
                  GError                     **error)
{
  gboolean xen = (protocol_features & VHOST_USER_PROTOCOL_FEATURE_XEN_MMAP) != 0;
  guint32 size = msg->header.size;

  switch (spec->kind)
    {
    case VHOST_USER_PAYLOAD_VRING_FD:
    case VHOST_USER_PAYLOAD_VRING_AREA:
      {
        guint64 u64;

        memcpy (&u64, msg->payload, sizeof u64);
        if (u64 & ~(guint64) (VHOST_USER_VRING_INDEX_MASK | VHOST_USER_VRING_NOFD_MASK))
          return invalid (error, name, "reserved bits set beside the ring index");
        if (u64 & VHOST_USER_VRING_NOFD_MASK)
          return check_fd_count (msg, name, 0, 0, error);
        return check_fd_count (msg, name, 1, 1, error);
      }

    case VHOST_USER_PAYLOAD_MEM_TABLE:
      {
        VhostUserWireMemoryTableHeader header;
        gsize stride = xen ? sizeof (VhostUserWireXenMemoryRegion) : sizeof (VhostUserWireMemoryRegion);

        memcpy (&header, msg->payload, sizeof header);
        if (header.nregions > VHOST_USER_MAX_MEM_TABLE_REGIONS)
          {
            g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                         "%s: %u regions, at most %u fit a memory table",
                         name, header.nregions, VHOST_USER_MAX_MEM_TABLE_REGIONS);
            return FALSE;
          }
        if (size != sizeof header + header.nregions * stride)
          {
            g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                         "%s: %u regions take %" G_GSIZE_FORMAT " bytes, the payload has %u",
                         name, header.nregions, sizeof header + header.nregions * stride, size);
            return FALSE;
          }
        /* one fd per region, in order; the postcopy reply carries none */
        return check_fd_count (msg, name, is_reply ? 0 : header.nregions,
                               is_reply ? 0 : header.nregions, error);
      }

    case VHOST_USER_PAYLOAD_SINGLE_REGION:
      if (size != (xen ? sizeof (VhostUserWireXenSingleRegion) : sizeof (VhostUserWireSingleRegion)))
        {
          g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                       "%s: a region is %" G_GSIZE_FORMAT " bytes, the payload has %u", name,
                       xen ? sizeof (VhostUserWireXenSingleRegion) : sizeof (VhostUserWireSingleRegion),
                       size);
          return FALSE;
        }
      return TRUE;

    case VHOST_USER_PAYLOAD_CONFIG:
      {
        VhostUserWireConfigHeader header;

        memcpy (&header, msg->payload, sizeof header);
        if ((guint64) header.size + VHOST_USER_CONFIG_HEADER_SIZE != size)
          {
            g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                         "%s: config size %u does not match the payload's %u bytes",
                         name, header.size, size);
            return FALSE;
          }
        return TRUE;
      }

    case VHOST_USER_PAYLOAD_SHMEM_CONFIG:
      {
        VhostUserWireShmemConfig config;

        memcpy (&config, msg->payload, sizeof config);
        if (config.nregions > VHOST_USER_MAX_SHMEM_REGIONS)
          return invalid (error, name, "more shared memory regions than ids");
        return TRUE;
      }

    case VHOST_USER_PAYLOAD_NONE:
    case VHOST_USER_PAYLOAD_U64:
    case VHOST_USER_PAYLOAD_VRING_STATE:
    case VHOST_USER_PAYLOAD_VRING_ADDR:
    case VHOST_USER_PAYLOAD_LOG:
    case VHOST_USER_PAYLOAD_IOTLB:
    case VHOST_USER_PAYLOAD_INFLIGHT:
    case VHOST_USER_PAYLOAD_UUID:
    case VHOST_USER_PAYLOAD_DEVICE_STATE:
    case VHOST_USER_PAYLOAD_SHMEM_MAP:
    case VHOST_USER_PAYLOAD_OPAQUE:
    default:
      return TRUE;
    }
}

static gboolean
validate_against (const VhostUserMessage      *msg,
                  const char                  *name,
                  const VhostUserPayloadSpec  *spec,
                  gboolean                     is_reply,
                  guint64                      protocol_features,
                  GError                     **error)
{
  guint32 size = msg->header.size;

  if (size < spec->min_size || size > spec->max_size)
    {
      if (spec->min_size == spec->max_size)
        g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                     "%s%s has a %u-byte payload, it takes %u",
                     name, is_reply ? " reply" : "", size, spec->min_size);
      else
        g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                     "%s%s has a %u-byte payload, it takes %u to %u",
                     name, is_reply ? " reply" : "", size, spec->min_size, spec->max_size);
      return FALSE;
    }

  if (!check_fd_count (msg, name, spec->min_fds, spec->max_fds, error))
    return FALSE;

  return validate_payload (msg, name, spec, is_reply, protocol_features, error);
}

/* Checks a whole message, header already accepted, against its row of the
 * table: sizes, fd counts, and the payload fields that size it. Whether
 * the request is allowed by what was negotiated is the role's question. */
gboolean
vhost_user_message_validate (const VhostUserMessage  *msg,
                             VhostUserChannel         channel,
                             guint64                  protocol_features,
                             GError                 **error)
{
  static const VhostUserPayloadSpec ack = { VHOST_USER_PAYLOAD_U64, 8, 8, 0, 0 };
  const VhostUserRequestInfo *info;
  gboolean is_reply = vhost_user_message_is_reply (msg);

  if (msg->n_fds > VHOST_USER_MAX_FDS)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS,
                   "Message carries %u file descriptors, at most %u are allowed",
                   msg->n_fds, VHOST_USER_MAX_FDS);
      return FALSE;
    }

  info = vhost_user_request_info_lookup (channel, msg->header.request);
  if (info == NULL)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                   "Unknown request %u on the %s channel",
                   msg->header.request, vhost_user_channel_get_name (channel));
      return FALSE;
    }

  if (!is_reply)
    return validate_against (msg, info->name, &info->request, FALSE, protocol_features, error);

  switch (info->reply)
    {
    case VHOST_USER_REPLY_ALWAYS:
      return validate_against (msg, info->name, &info->reply_payload, TRUE, protocol_features, error);

    case VHOST_USER_REPLY_ACK:
      if (info->reply_payload.kind != VHOST_USER_PAYLOAD_NONE && msg->header.size != ack.min_size)
        return validate_against (msg, info->name, &info->reply_payload, TRUE, protocol_features, error);
      return validate_against (msg, info->name, &ack, TRUE, protocol_features, error);

    case VHOST_USER_REPLY_NONE:
    default:
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                   "%s never gets a reply", info->name);
      return FALSE;
    }
}

/* Parses one whole message out of @buf into @msg, which must be
 * initialised (VHOST_USER_MESSAGE_INIT or cleared): fds it still holds are
 * closed first. Takes ownership of @fds: on success they belong to @msg,
 * on failure they are closed. */
gboolean
vhost_user_message_parse (VhostUserMessage  *msg,
                          const guint8      *buf,
                          gsize              len,
                          const int         *fds,
                          guint              n_fds,
                          VhostUserChannel   channel,
                          gboolean           expect_reply,
                          guint64            protocol_features,
                          GError           **error)
{
  gsize total;

  vhost_user_message_close_fds (msg);
  if (n_fds > VHOST_USER_MAX_FDS)
    {
      for (guint i = 0; i < n_fds; i++)
        vhost_user_peer_fd_close (fds[i]);
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS,
                   "Message carries %u file descriptors, at most %u are allowed",
                   n_fds, VHOST_USER_MAX_FDS);
      return FALSE;
    }
  for (guint i = 0; i < n_fds; i++)
    msg->fds[i] = fds[i];
  msg->n_fds = n_fds;

  if (len < VHOST_USER_HEADER_SIZE)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_PARTIAL_MESSAGE,
                   "Message truncated to %" G_GSIZE_FORMAT " bytes, shorter than its header", len);
      goto fail;
    }

  memcpy (&msg->header, buf, VHOST_USER_HEADER_SIZE);
  if (!vhost_user_message_check_header (&msg->header, expect_reply, error))
    goto fail;

  total = VHOST_USER_HEADER_SIZE + msg->header.size;
  if (len < total)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_PARTIAL_MESSAGE,
                   "Message %u truncated: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes",
                   msg->header.request, len, total);
      goto fail;
    }
  if (len > total)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE,
                   "Message %u followed by %" G_GSIZE_FORMAT " stray bytes",
                   msg->header.request, len - total);
      goto fail;
    }
  memcpy (msg->payload, buf + VHOST_USER_HEADER_SIZE, msg->header.size);

  if (!vhost_user_message_validate (msg, channel, protocol_features, error))
    goto fail;

  return TRUE;

fail:
  vhost_user_message_clear (msg);
  return FALSE;
}

const guint8 *
vhost_user_message_get_data (const VhostUserMessage *msg,
                             gsize                  *len)
{
  *len = VHOST_USER_HEADER_SIZE + MIN (msg->header.size, VHOST_USER_MAX_PAYLOAD);
  return (const guint8 *) &msg->header;
}

/* Writes header and payload to @buf; returns the byte count, or 0 if
 * @buf is too small. The fds travel beside the bytes (SCM_RIGHTS). */
gsize
vhost_user_message_serialize (const VhostUserMessage *msg,
                              guint8                 *buf,
                              gsize                   buf_len)
{
  gsize len;
  const guint8 *data = vhost_user_message_get_data (msg, &len);

  if (buf_len < len)
    return 0;
  memcpy (buf, data, len);
  return len;
}

gboolean
vhost_user_message_set_payload (VhostUserMessage *msg,
                                gconstpointer     data,
                                gsize             size)
{
  if (size > VHOST_USER_MAX_PAYLOAD)
    return FALSE;
  if (size > 0)
    memcpy (msg->payload, data, size);
  msg->header.size = size;
  return TRUE;
}

void
vhost_user_message_set_u64 (VhostUserMessage *msg,
                            guint64           value)
{
  vhost_user_message_set_struct (msg, &value);
}

void
vhost_user_message_set_vring_state (VhostUserMessage *msg,
                                    guint32           index,
                                    guint32           num)
{
  VhostUserWireVringState state = { index, num };

  vhost_user_message_set_struct (msg, &state);
}

/* @fd < 0 sets the no-fd bit; otherwise the message takes the fd. */
void
vhost_user_message_set_vring_fd (VhostUserMessage *msg,
                                 guint             index,
                                 int               fd)
{
  guint64 u64 = index & VHOST_USER_VRING_INDEX_MASK;

  if (fd < 0)
    u64 |= VHOST_USER_VRING_NOFD_MASK;
  else
    vhost_user_message_add_fd (msg, fd);
  vhost_user_message_set_u64 (msg, u64);
}

gboolean
vhost_user_message_set_mem_table (VhostUserMessage                   *msg,
                                  const VhostUserWireXenMemoryRegion *regions,
                                  guint                               n_regions,
                                  gboolean                            xen)
{
  VhostUserWireMemoryTableHeader header = { n_regions, 0 };
  gsize stride = xen ? sizeof (VhostUserWireXenMemoryRegion) : sizeof (VhostUserWireMemoryRegion);

  if (n_regions > VHOST_USER_MAX_MEM_TABLE_REGIONS)
    return FALSE;
  memcpy (msg->payload, &header, sizeof header);
  for (guint i = 0; i < n_regions; i++)
    memcpy (msg->payload + sizeof header + i * stride, &regions[i], stride);
  msg->header.size = sizeof header + n_regions * stride;
  return TRUE;
}

void
vhost_user_message_set_single_region (VhostUserMessage                   *msg,
                                      const VhostUserWireXenMemoryRegion *region,
                                      gboolean                            xen)
{
  VhostUserWireXenSingleRegion single = { 0, *region };
  gsize size = xen ? sizeof (VhostUserWireXenSingleRegion) : sizeof (VhostUserWireSingleRegion);

  vhost_user_message_set_payload (msg, &single, size);
}

gboolean
vhost_user_message_set_config (VhostUserMessage *msg,
                               guint32           offset,
                               guint32           flags,
                               const guint8     *data,
                               guint32           size)
{
  VhostUserWireConfigHeader header = { offset, size, flags };

  if (size > VHOST_USER_MAX_CONFIG_SIZE)
    return FALSE;
  memcpy (msg->payload, &header, sizeof header);
  if (data != NULL)
    memcpy (msg->payload + sizeof header, data, size);
  else
    memset (msg->payload + sizeof header, 0, size);
  msg->header.size = sizeof header + size;
  return TRUE;
}

/* Every typed reader goes through here: the payload must be exactly the
 * layout's size, so a reader can never see bytes past what was received. */
static gboolean
get_exact (const VhostUserMessage *msg,
           gpointer                out,
           gsize                   size)
{
  if (msg->header.size != size)
    return FALSE;
  memcpy (out, msg->payload, size);
  return TRUE;
}

gboolean
vhost_user_message_get_u64 (const VhostUserMessage *msg,
                            guint64                *value)
{
  return get_exact (msg, value, sizeof *value);
}

gboolean
vhost_user_message_get_vring_state (const VhostUserMessage *msg,
                                    guint32                *index,
                                    guint32                *num)
{
  VhostUserWireVringState state;

  if (!get_exact (msg, &state, sizeof state))
    return FALSE;
  *index = state.index;
  *num = state.num;
  return TRUE;
}

gboolean
vhost_user_message_get_vring_addr (const VhostUserMessage *msg,
                                   VhostUserWireVringAddr *addr)
{
  return get_exact (msg, addr, sizeof *addr);
}

gboolean
vhost_user_message_get_vring_fd (const VhostUserMessage *msg,
                                 guint                  *index,
                                 gboolean               *no_fd)
{
  guint64 u64;

  if (!get_exact (msg, &u64, sizeof u64))
    return FALSE;
  *index = u64 & VHOST_USER_VRING_INDEX_MASK;
  *no_fd = (u64 & VHOST_USER_VRING_NOFD_MASK) != 0;
  return TRUE;
}

guint
vhost_user_message_get_mem_table_n_regions (const VhostUserMessage *msg)
{
  VhostUserWireMemoryTableHeader header;

  if (msg->header.size < sizeof header)
    return 0;
  memcpy (&header, msg->payload, sizeof header);
  return header.nregions;
}

/* Regions come back in the Xen layout, its fields zero when the table is
 * the plain one. The stride follows from the validated size. */
gboolean
vhost_user_message_get_mem_table_region (const VhostUserMessage       *msg,
                                         guint                         i,
                                         VhostUserWireXenMemoryRegion *region)
{
  guint n = vhost_user_message_get_mem_table_n_regions (msg);
  gsize stride, offset;

  if (i >= n || n > VHOST_USER_MAX_MEM_TABLE_REGIONS)
    return FALSE;
  stride = (msg->header.size - sizeof (VhostUserWireMemoryTableHeader)) / n;
  if (stride != sizeof (VhostUserWireMemoryRegion) && stride != sizeof (VhostUserWireXenMemoryRegion))
    return FALSE;
  if (msg->header.size != sizeof (VhostUserWireMemoryTableHeader) + n * stride)
    return FALSE;
  offset = sizeof (VhostUserWireMemoryTableHeader) + i * stride;
  memset (region, 0, sizeof *region);
  memcpy (region, msg->payload + offset, stride);
  return TRUE;
}

gboolean
vhost_user_message_get_single_region (const VhostUserMessage       *msg,
                                      VhostUserWireXenMemoryRegion *region)
{
  VhostUserWireXenSingleRegion single = { 0 };

  if (msg->header.size != sizeof (VhostUserWireSingleRegion) &&
      msg->header.size != sizeof (VhostUserWireXenSingleRegion))
    return FALSE;
  memcpy (&single, msg->payload, msg->header.size);
  *region = single.region;
  return TRUE;
}

gboolean
vhost_user_message_get_log (const VhostUserMessage *msg,
                            VhostUserWireLog       *log)
{
  return get_exact (msg, log, sizeof *log);
}

gboolean
vhost_user_message_get_iotlb (const VhostUserMessage *msg,
                              VhostUserWireIotlb     *iotlb)
{
  return get_exact (msg, iotlb, sizeof *iotlb);
}

gboolean
vhost_user_message_get_config (const VhostUserMessage  *msg,
                               guint32                 *offset,
                               guint32                 *flags,
                               const guint8           **data,
                               guint32                 *size)
{
  VhostUserWireConfigHeader header;

  if (msg->header.size < sizeof header)
    return FALSE;
  memcpy (&header, msg->payload, sizeof header);
  if ((guint64) header.size + sizeof header != msg->header.size)
    return FALSE;
  *offset = header.offset;
  *flags = header.flags;
  *size = header.size;
  *data = msg->payload + sizeof header;
  return TRUE;
}

gboolean
vhost_user_message_get_vring_area (const VhostUserMessage *msg,
                                   guint                  *index,
                                   gboolean               *no_fd,
                                   guint64                *size,
                                   guint64                *offset)
{
  VhostUserWireVringArea area;

  if (!get_exact (msg, &area, sizeof area))
    return FALSE;
  *index = area.u64 & VHOST_USER_VRING_INDEX_MASK;
  *no_fd = (area.u64 & VHOST_USER_VRING_NOFD_MASK) != 0;
  *size = area.size;
  *offset = area.offset;
  return TRUE;
}

gboolean
vhost_user_message_get_inflight (const VhostUserMessage *msg,
                                 VhostUserWireInflight  *inflight)
{
  return get_exact (msg, inflight, sizeof *inflight);
}

gboolean
vhost_user_message_get_uuid (const VhostUserMessage *msg,
                             guint8                  uuid[16])
{
  return get_exact (msg, uuid, 16);
}

gboolean
vhost_user_message_get_device_state (const VhostUserMessage *msg,
                                     guint32                *direction,
                                     guint32                *phase)
{
  VhostUserWireDeviceStateTransfer transfer;

  if (!get_exact (msg, &transfer, sizeof transfer))
    return FALSE;
  *direction = transfer.direction;
  *phase = transfer.phase;
  return TRUE;
}

gboolean
vhost_user_message_get_shmem_map (const VhostUserMessage *msg,
                                  VhostUserWireShmemMap  *map)
{
  return get_exact (msg, map, sizeof *map);
}

gboolean
vhost_user_message_get_shmem_config (const VhostUserMessage   *msg,
                                     VhostUserWireShmemConfig *config)
{
  return get_exact (msg, config, sizeof *config);
}

/* --- tracing --- */

static void
describe_u64 (const VhostUserMessage *msg,
              GString                *out)
{
  guint64 u64;

  if (vhost_user_message_get_u64 (msg, &u64))
    g_string_append_printf (out, " u64=0x%" G_GINT64_MODIFIER "x", u64);
}

static void
describe_vring_state (const VhostUserMessage *msg,
                      GString                *out)
{
  guint32 index, num;

  if (vhost_user_message_get_vring_state (msg, &index, &num))
    g_string_append_printf (out, " index=%u num=%u (0x%x)", index, num, num);
}

static void
describe_vring_addr (const VhostUserMessage *msg,
                     GString                *out)
{
  VhostUserWireVringAddr a;

  if (vhost_user_message_get_vring_addr (msg, &a))
    g_string_append_printf (out, " index=%u flags=0x%x desc=0x%" G_GINT64_MODIFIER "x"
                            " used=0x%" G_GINT64_MODIFIER "x avail=0x%" G_GINT64_MODIFIER "x"
                            " log=0x%" G_GINT64_MODIFIER "x",
                            a.index, a.flags, a.desc_user_addr, a.used_user_addr,
                            a.avail_user_addr, a.log_guest_addr);
}

static void
describe_vring_fd (const VhostUserMessage *msg,
                   GString                *out)
{
  guint index;
  gboolean no_fd;

  if (vhost_user_message_get_vring_fd (msg, &index, &no_fd))
    g_string_append_printf (out, " index=%u%s", index, no_fd ? " no-fd" : "");
}

static void
describe_mem_table (const VhostUserMessage *msg,
                    GString                *out)
{
  guint n = vhost_user_message_get_mem_table_n_regions (msg);
  VhostUserWireXenMemoryRegion r;

  g_string_append_printf (out, " nregions=%u", n);
  for (guint i = 0; i < n && vhost_user_message_get_mem_table_region (msg, i, &r); i++)
    g_string_append_printf (out, " [%u] gpa=0x%" G_GINT64_MODIFIER "x size=0x%" G_GINT64_MODIFIER "x"
                            " uaddr=0x%" G_GINT64_MODIFIER "x offset=0x%" G_GINT64_MODIFIER "x",
                            i, r.guest_phys_addr, r.memory_size, r.userspace_addr, r.mmap_offset);
}

static void
describe_single_region (const VhostUserMessage *msg,
                        GString                *out)
{
  VhostUserWireXenMemoryRegion r;

  if (vhost_user_message_get_single_region (msg, &r))
    g_string_append_printf (out, " gpa=0x%" G_GINT64_MODIFIER "x size=0x%" G_GINT64_MODIFIER "x"
                            " uaddr=0x%" G_GINT64_MODIFIER "x offset=0x%" G_GINT64_MODIFIER "x",
                            r.guest_phys_addr, r.memory_size, r.userspace_addr, r.mmap_offset);
}

static void
describe_log (const VhostUserMessage *msg,
              GString                *out)
{
  VhostUserWireLog log;

  if (vhost_user_message_get_log (msg, &log))
    g_string_append_printf (out, " mmap_size=0x%" G_GINT64_MODIFIER "x mmap_offset=0x%" G_GINT64_MODIFIER "x",
                            log.mmap_size, log.mmap_offset);
}

static void
describe_iotlb (const VhostUserMessage *msg,
                GString                *out)
{
  VhostUserWireIotlb i;

  if (vhost_user_message_get_iotlb (msg, &i))
    g_string_append_printf (out, " iova=0x%" G_GINT64_MODIFIER "x size=0x%" G_GINT64_MODIFIER "x"
                            " uaddr=0x%" G_GINT64_MODIFIER "x perm=%u type=%u",
                            i.iova, i.size, i.uaddr, i.perm, i.type);
}

static void
describe_config (const VhostUserMessage *msg,
                 GString                *out)
{
  guint32 offset, flags, size;
  const guint8 *data;

  if (vhost_user_message_get_config (msg, &offset, &flags, &data, &size))
    g_string_append_printf (out, " offset=%u size=%u flags=0x%x", offset, size, flags);
}

static void
describe_vring_area (const VhostUserMessage *msg,
                     GString                *out)
{
  guint index;
  gboolean no_fd;
  guint64 size, offset;

  if (vhost_user_message_get_vring_area (msg, &index, &no_fd, &size, &offset))
    g_string_append_printf (out, " index=%u%s size=0x%" G_GINT64_MODIFIER "x offset=0x%" G_GINT64_MODIFIER "x",
                            index, no_fd ? " no-fd" : "", size, offset);
}

static void
describe_inflight (const VhostUserMessage *msg,
                   GString                *out)
{
  VhostUserWireInflight i;

  if (vhost_user_message_get_inflight (msg, &i))
    g_string_append_printf (out, " mmap_size=0x%" G_GINT64_MODIFIER "x mmap_offset=0x%" G_GINT64_MODIFIER "x"
                            " num_queues=%u queue_size=%u",
                            i.mmap_size, i.mmap_offset, i.num_queues, i.queue_size);
}

/* A UUID as text, the form signals, traces and tables use. */
char *
vhost_user_uuid_to_string (const guint8 u[16])
{
  return g_strdup_printf ("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                          u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
                          u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* 32 hex digits, dashes anywhere (the usual 8-4-4-4-12 or none), in the
 * order the wire carries them. */
gboolean
vhost_user_uuid_parse (const char  *text,
                       guint8       uuid[16],
                       GError     **error)
{
  guint n = 0;
  const char *p;

  for (p = text; *p != '\0' && n < 32; p++)
    {
      int v = g_ascii_xdigit_value (*p);

      if (*p == '-')
        continue;
      if (v < 0)
        break;
      if (n % 2 == 0)
        uuid[n / 2] = v << 4;
      else
        uuid[n / 2] |= v;
      n++;
    }
  if (n != 32 || *p != '\0')
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM, "“%s” is not a UUID", text);
      return FALSE;
    }
  return TRUE;
}

/* A UUID payload as text, the form signals and traces show. */
char *
vhost_user_message_get_uuid_string (const VhostUserMessage *msg)
{
  guint8 u[16];

  if (!vhost_user_message_get_uuid (msg, u))
    return NULL;
  return g_strdup_printf ("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                          u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
                          u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

static void
describe_uuid (const VhostUserMessage *msg,
               GString                *out)
{
  g_autofree char *uuid = vhost_user_message_get_uuid_string (msg);

  if (uuid != NULL)
    g_string_append_printf (out, " uuid=%s", uuid);
}

static void
describe_device_state (const VhostUserMessage *msg,
                       GString                *out)
{
  guint32 direction, phase;

  if (vhost_user_message_get_device_state (msg, &direction, &phase))
    g_string_append_printf (out, " direction=%s phase=%u",
                            direction == 0 ? "save" : direction == 1 ? "load" : "?", phase);
}

static void
describe_shmem_map (const VhostUserMessage *msg,
                    GString                *out)
{
  VhostUserWireShmemMap m;

  if (vhost_user_message_get_shmem_map (msg, &m))
    g_string_append_printf (out, " shmid=%u fd_offset=0x%" G_GINT64_MODIFIER "x shm_offset=0x%" G_GINT64_MODIFIER "x"
                            " len=0x%" G_GINT64_MODIFIER "x flags=0x%" G_GINT64_MODIFIER "x",
                            m.shmid, m.fd_offset, m.shm_offset, m.len, m.flags);
}

static void
describe_shmem_config (const VhostUserMessage *msg,
                       GString                *out)
{
  VhostUserWireShmemConfig c;

  if (vhost_user_message_get_shmem_config (msg, &c))
    {
      g_string_append_printf (out, " nregions=%u", c.nregions);
      for (guint i = 0; i < VHOST_USER_MAX_SHMEM_REGIONS; i++)
        if (c.memory_sizes[i] != 0)
          g_string_append_printf (out, " [%u]=0x%" G_GINT64_MODIFIER "x", i, c.memory_sizes[i]);
    }
}

/* Payloads with nothing to show (none, opaque) have no row. */
static void (* const describers[]) (const VhostUserMessage *msg,
                                    GString                *out) = {
  [VHOST_USER_PAYLOAD_U64]           = describe_u64,
  [VHOST_USER_PAYLOAD_VRING_STATE]   = describe_vring_state,
  [VHOST_USER_PAYLOAD_VRING_ADDR]    = describe_vring_addr,
  [VHOST_USER_PAYLOAD_VRING_FD]      = describe_vring_fd,
  [VHOST_USER_PAYLOAD_MEM_TABLE]     = describe_mem_table,
  [VHOST_USER_PAYLOAD_SINGLE_REGION] = describe_single_region,
  [VHOST_USER_PAYLOAD_LOG]           = describe_log,
  [VHOST_USER_PAYLOAD_IOTLB]         = describe_iotlb,
  [VHOST_USER_PAYLOAD_CONFIG]        = describe_config,
  [VHOST_USER_PAYLOAD_VRING_AREA]    = describe_vring_area,
  [VHOST_USER_PAYLOAD_INFLIGHT]      = describe_inflight,
  [VHOST_USER_PAYLOAD_UUID]          = describe_uuid,
  [VHOST_USER_PAYLOAD_DEVICE_STATE]  = describe_device_state,
  [VHOST_USER_PAYLOAD_SHMEM_MAP]     = describe_shmem_map,
  [VHOST_USER_PAYLOAD_SHMEM_CONFIG]  = describe_shmem_config,
};

static void
describe_payload (const VhostUserMessage *msg,
                  VhostUserPayloadKind    kind,
                  GString                *out)
{
  if (kind < G_N_ELEMENTS (describers) && describers[kind] != NULL)
    describers[kind] (msg, out);
}

/* The payload's fields alone, each as " name=value" (vhost-user-trace
 * puts them in a JSON member of their own); nothing for an unknown
 * request or a payload of the wrong size. */
void
vhost_user_message_describe_fields (const VhostUserMessage *msg,
                                    VhostUserChannel        channel,
                                    GString                *out)
{
  const VhostUserRequestInfo *info = vhost_user_request_info_lookup (channel, msg->header.request);
  gboolean is_reply = vhost_user_message_is_reply (msg);

  if (info == NULL)
    return;

  if (!is_reply)
    describe_payload (msg, info->request.kind, out);
  else if (info->reply == VHOST_USER_REPLY_ACK && msg->header.size == sizeof (guint64))
    describe_payload (msg, VHOST_USER_PAYLOAD_U64, out);
  else
    describe_payload (msg, info->reply_payload.kind, out);
}

/* One line per message with every decoded field, for VHOST_USER_DEBUG=trace. */
void
vhost_user_message_describe (const VhostUserMessage *msg,
                             VhostUserChannel        channel,
                             GString                *out)
{
  const VhostUserRequestInfo *info = vhost_user_request_info_lookup (channel, msg->header.request);

  g_string_append_printf (out, "%s%s (%u) flags=0x%x",
                          info != NULL ? info->name : "UNKNOWN",
                          vhost_user_message_is_reply (msg) ? " reply" : "",
                          msg->header.request, msg->header.flags);
  if (vhost_user_message_needs_reply (msg))
    g_string_append (out, " [need-reply]");
  g_string_append_printf (out, " size=%u fds=%u", msg->header.size, msg->n_fds);
  vhost_user_message_describe_fields (msg, channel, out);
}
