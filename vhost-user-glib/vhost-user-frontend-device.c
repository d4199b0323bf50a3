/* vhost-user-frontend-device.c: typed requests about what the device
 * shares beyond guest memory: the IOTLB, shared objects, device state and
 * shared memory regions
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "vhost-user-error.h"
#include "vhost-user-frontend-private.h"

static gboolean
build_iotlb (VhostUserBuilt *b,
             guint64   iova,
             guint64   size,
             guint64   user_addr,
             guint     perm,
             guint     type,
             GError  **error)
{
  VhostUserWireIotlb iotlb = { iova, size, user_addr, perm, type, { 0 } };

  if (perm > 3 || type > 4)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "IOTLB permission %u or type %u is not one the protocol knows", perm, type);
      return FALSE;
    }
  return vhost_user_frontend_build (b, &iotlb, sizeof iotlb, NULL, 0, error);
}

/* The status a reply carries. FALSE (@error set) without one: a NULL
 * @reply is a request that failed and said why. Any u64 is the back-end's
 * to send, all ones too (it once passed for "no reply" here, failing
 * without an error: a device state transfer then counted as done). */
static gboolean
reply_status (GBytes   *reply,
              guint64  *status,
              GError  **error)
{
  if (reply == NULL)
    return FALSE;
  *status = vhost_user_frontend_parse_u64 (reply, error);
  return g_bytes_get_size (reply) == sizeof *status;
}

/* IOTLB_MSG answers with a status even without REPLY_ACK. */
static gboolean
parse_iotlb_status (GBytes  *reply,
                    GError **error)
{
  guint64 status;

  if (!reply_status (reply, &status, error))
    return FALSE;
  if (status != 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                   "The back-end refused the IOTLB update (status %" G_GUINT64_FORMAT ")", status);
      return FALSE;
    }
  return TRUE;
}

/**
 * vhost_user_frontend_send_iotlb_msg:
 * @self: a front-end
 * @iova: the I/O virtual address
 * @size: the range's size
 * @user_addr: where it maps to in this process
 * @perm: the access (1 read, 2 write, 3 both)
 * @type: 2 update, 3 invalidate
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Updates or invalidates an IOTLB entry (`IOTLB_MSG`, needs
 * `VIRTIO_F_ACCESS_PLATFORM`).
 *
 * Returns: %TRUE if the back-end accepted it
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_send_iotlb_msg (VhostUserFrontend  *self,
                               guint64             iova,
                               guint64             size,
                               guint64             user_addr,
                               guint               perm,
                               guint               type,
                               GCancellable       *cancellable,
                               GError            **error)
{
  g_auto(VhostUserBuilt) b = { 0 };
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_call_built (self, VHOST_USER_REQUEST_IOTLB_MSG, &b,
                      build_iotlb (&b, iova, size, user_addr, perm, type, error), cancellable, error);
  return parse_iotlb_status (reply, error);
}

/**
 * vhost_user_frontend_send_iotlb_msg_async:
 * @self: a front-end
 * @iova: the I/O virtual address
 * @size: the range's size
 * @user_addr: where it maps to in this process
 * @perm: the access (1 read, 2 write, 3 both)
 * @type: 2 update, 3 invalidate
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the answer
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_send_iotlb_msg(); finish with
 * vhost_user_frontend_send_iotlb_msg_finish().
 *
 * Since: 1.0
 */
void
vhost_user_frontend_send_iotlb_msg_async (VhostUserFrontend   *self,
                                     guint64              iova,
                                     guint64              size,
                                     guint64              user_addr,
                                     guint                perm,
                                     guint                type,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_auto(VhostUserBuilt) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_iotlb (&b, iova, size, user_addr, perm, type, &error);

  vhost_user_frontend_send_built (self, VHOST_USER_REQUEST_IOTLB_MSG, &b, ok, error, vhost_user_frontend_send_iotlb_msg_async,
              cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_send_iotlb_msg_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_send_iotlb_msg_async().
 *
 * Returns: %TRUE if the back-end accepted the message
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_send_iotlb_msg_finish (VhostUserFrontend  *self,
                                           GAsyncResult       *result,
                                           GError            **error)
{
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_finish_built (self, result, vhost_user_frontend_send_iotlb_msg_async, NULL, NULL,
                                            error);
  return parse_iotlb_status (reply, error);
}

static gboolean
build_uuid (VhostUserBuilt *b,
            const char  *uuid,
            GError     **error)
{
  guint8 bytes[16];
  guint n = 0;

  for (const char *p = uuid; *p != '\0' && n < 32; p++)
    {
      int v = g_ascii_xdigit_value (*p);

      if (*p == '-')
        continue;
      if (v < 0)
        break;
      if (n % 2 == 0)
        bytes[n / 2] = v << 4;
      else
        bytes[n / 2] |= v;
      n++;
    }
  if (n != 32)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM, "“%s” is not a UUID", uuid);
      return FALSE;
    }
  return vhost_user_frontend_build (b, bytes, sizeof bytes, NULL, 0, error);
}

/* The u64 and fd of a reply such as GET_SHARED_OBJECT's: the fd, or -1
 * with an error when the u64 says "failed" or no fd came. */
static int
parse_fd_reply (GBytes       *reply,
                GUnixFDList  *fd_list,
                GError      **error)
{
  guint64 status;

  if (!reply_status (reply, &status, error))
    return -1;
  if (status != 0 || fd_list == NULL || g_unix_fd_list_get_length (fd_list) != 1)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                   "The back-end had nothing to give (status %" G_GUINT64_FORMAT ")", status);
      return -1;
    }
  return g_unix_fd_list_get (fd_list, 0, error);
}

/**
 * vhost_user_frontend_get_shared_object:
 * @self: a front-end
 * @uuid: the object's UUID, as text
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Looks up a shared object the back-end exported (`GET_SHARED_OBJECT`).
 *
 * Returns: its dma-buf fd (the caller owns it), or -1 with @error set
 *
 * Since: 1.0
 */
int
vhost_user_frontend_get_shared_object (VhostUserFrontend  *self,
                                       const char         *uuid,
                                       GCancellable       *cancellable,
                                       GError            **error)
{
  g_auto(VhostUserBuilt) b = { 0 };
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GUnixFDList) fd_list = NULL;

  g_return_val_if_fail (uuid != NULL, -1);
  if (!build_uuid (&b, uuid, error))
    return -1;
  reply = vhost_user_frontend_request (self, VHOST_USER_REQUEST_GET_SHARED_OBJECT, b.payload, NULL,
                                       cancellable, &fd_list, error);
  return parse_fd_reply (reply, fd_list, error);
}

/**
 * vhost_user_frontend_get_shared_object_async:
 * @self: a front-end
 * @uuid: the object's UUID, as text
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the answer
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_get_shared_object(); finish with
 * vhost_user_frontend_get_shared_object_finish().
 *
 * Since: 1.0
 */
void
vhost_user_frontend_get_shared_object_async (VhostUserFrontend   *self,
                                             const char          *uuid,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data)
{
  g_auto(VhostUserBuilt) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_uuid (&b, uuid, &error);

  vhost_user_frontend_send_built (self, VHOST_USER_REQUEST_GET_SHARED_OBJECT, &b, ok, error,
              vhost_user_frontend_get_shared_object_async, cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_get_shared_object_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_get_shared_object_async().
 *
 * Returns: the object's dma-buf fd (the caller owns it), or -1 with
 *   @error set
 *
 * Since: 1.0
 */
int
vhost_user_frontend_get_shared_object_finish (VhostUserFrontend  *self,
                                              GAsyncResult       *result,
                                              GError            **error)
{
  g_autoptr(GUnixFDList) fd_list = NULL;
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_finish_built (self, result, vhost_user_frontend_get_shared_object_async, NULL,
                                            &fd_list, error);
  return parse_fd_reply (reply, fd_list, error);
}

static gboolean
build_device_state (VhostUserBuilt *b,
                    guint     direction,
                    guint     phase,
                    int       fd,
                    GError  **error)
{
  VhostUserWireDeviceStateTransfer transfer = { direction, phase };

  if (direction > 1)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                   "Transfer direction %u is neither save (0) nor load (1)", direction);
      return FALSE;
    }
  return vhost_user_frontend_build (b, &transfer, sizeof transfer, &fd, 1, error);
}

/* The u64 says whether the back-end accepted (bits 0-7) and whether it
 * sent an fd of its own to use instead of ours (bit 8 clear). */
static gboolean
parse_device_state (GBytes       *reply,
                    GUnixFDList  *fd_list,
                    int          *out_fd,
                    GError      **error)
{
  guint64 status;

  if (out_fd != NULL)
    *out_fd = -1;
  if (!reply_status (reply, &status, error))
    return FALSE;
  if ((status & 0xff) != 0)
    {
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL,
                   "The back-end refused the state transfer (status %" G_GUINT64_FORMAT ")", status & 0xff);
      return FALSE;
    }
  if (!(status & 0x100) && (fd_list == NULL || g_unix_fd_list_get_length (fd_list) != 1))
    {
      /* "use my fd", and none came: there is no pipe to use */
      g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS,
                   "The back-end's answer to SET_DEVICE_STATE_FD names an fd of its own but carries none");
      return FALSE;
    }
  if (!(status & 0x100))
    {
      /* the pipe we sent is no longer the back-end's: a caller that
       * cannot take its fd cannot move the state, and must hear so */
      if (out_fd == NULL)
        {
          g_set_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INCORRECT_FDS,
                       "The back-end answered SET_DEVICE_STATE_FD with an fd of its own, which the caller "
                       "did not ask to take (out_fd)");
          return FALSE;
        }
      *out_fd = g_unix_fd_list_get (fd_list, 0, error);
      return *out_fd >= 0;
    }
  return TRUE;
}

/**
 * vhost_user_frontend_set_device_state_fd:
 * @self: a front-end
 * @direction: 0 to save the device's state (the back-end writes), 1 to
 *   load it (the back-end reads)
 * @phase: 0 (stopped), the only phase defined
 * @fd: our end of the pipe; borrowed: the front-end sends a duplicate,
 *   the caller still closes its own
 * @out_fd: (out) (optional): an fd the back-end wants used instead, or -1;
 *   without it such an answer is an error (%VHOST_USER_ERROR_INCORRECT_FDS)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Starts a device-state transfer (`SET_DEVICE_STATE_FD`); finish it with
 * `CHECK_DEVICE_STATE` (vhost_user_frontend_get_u64()).
 *
 * An fd in @out_fd is the back-end's open file, not a copy: it may be
 * anything, not only a pipe, and the back-end shares its flags, so it can
 * make a read or a write of it block for good (clear `O_NONBLOCK`). Check
 * it, and read or write it with `preadv2()`/`pwritev2()` and `RWF_NOWAIT`
 * rather than trust the flag, as [class@VhostUser.Device] does. (The pipe
 * you pass is no safer if the back-end keeps a copy of its end.)
 *
 * Returns: %TRUE if the back-end accepted
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_set_device_state_fd (VhostUserFrontend  *self,
                                         guint               direction,
                                         guint               phase,
                                         int                 fd,
                                         int                *out_fd,
                                         GCancellable       *cancellable,
                                         GError            **error)
{
  g_auto(VhostUserBuilt) b = { 0 };
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GUnixFDList) fd_list = NULL;

  if (out_fd != NULL)
    *out_fd = -1;
  if (!build_device_state (&b, direction, phase, fd, error))
    return FALSE;
  reply = vhost_user_frontend_request (self, VHOST_USER_REQUEST_SET_DEVICE_STATE_FD, b.payload, b.fd_list,
                                       cancellable, &fd_list, error);
  return parse_device_state (reply, fd_list, out_fd, error);
}

/**
 * vhost_user_frontend_set_device_state_fd_async:
 * @self: a front-end
 * @direction: 0 save, 1 load
 * @phase: 0 (stopped)
 * @fd: our end of the pipe; borrowed: the front-end sends a duplicate,
 *   the caller still closes its own
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the answer
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_set_device_state_fd(); finish
 * with vhost_user_frontend_set_device_state_fd_finish().
 *
 * Since: 1.0
 */
void
vhost_user_frontend_set_device_state_fd_async (VhostUserFrontend   *self,
                                               guint                direction,
                                               guint                phase,
                                               int                  fd,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data)
{
  g_auto(VhostUserBuilt) b = { 0 };
  GError *error = NULL;
  gboolean ok = build_device_state (&b, direction, phase, fd, &error);

  vhost_user_frontend_send_built (self, VHOST_USER_REQUEST_SET_DEVICE_STATE_FD, &b, ok, error,
              vhost_user_frontend_set_device_state_fd_async, cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_set_device_state_fd_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @out_fd: (out) (optional): an fd the back-end wants used instead of
 *   the one passed (the caller owns it), or -1: use your own
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_set_device_state_fd_async().
 *
 * Returns: %TRUE if the back-end accepted
 *
 * Since: 1.0
 */
gboolean
vhost_user_frontend_set_device_state_fd_finish (VhostUserFrontend  *self,
                                                GAsyncResult       *result,
                                                int                *out_fd,
                                                GError            **error)
{
  g_autoptr(GUnixFDList) fd_list = NULL;
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_finish_built (self, result, vhost_user_frontend_set_device_state_fd_async, NULL,
                                            &fd_list, error);
  return parse_device_state (reply, fd_list, out_fd, error);
}

/* One size per shared memory region id, 0 where there is none. */
static guint64 *
parse_shmem_config (GBytes  *reply,
                    guint   *n_sizes)
{
  VhostUserWireShmemConfig config;

  *n_sizes = 0;
  if (reply == NULL)
    return NULL;
  memcpy (&config, g_bytes_get_data (reply, NULL), sizeof config);
  *n_sizes = VHOST_USER_MAX_SHMEM_REGIONS;
  return g_memdup2 (config.memory_sizes, sizeof config.memory_sizes);
}

/**
 * vhost_user_frontend_get_shmem_config:
 * @self: a front-end
 * @n_sizes: (out): 256, the number of shared memory region ids
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Asks for the device's shared memory regions (`GET_SHMEM_CONFIG`).
 * The back-end's maps are checked against the sizes of the latest
 * answer, and one that shrinks or removes a region drops the mappings
 * recorded outside it (vhost_user_frontend_lookup_shmem_mapping()).
 *
 * Returns: (array length=n_sizes) (transfer full) (nullable): the size of
 *   each region by id, 0 where there is none; %NULL with @error set
 *
 * Since: 1.0
 */
guint64 *
vhost_user_frontend_get_shmem_config (VhostUserFrontend  *self,
                                      guint              *n_sizes,
                                      GCancellable       *cancellable,
                                      GError            **error)
{
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_request (self, VHOST_USER_REQUEST_GET_SHMEM_CONFIG, NULL, NULL, cancellable, NULL, error);
  return parse_shmem_config (reply, n_sizes);
}

/**
 * vhost_user_frontend_get_shmem_config_async:
 * @self: a front-end
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the answer
 * @user_data: data for @callback
 *
 * The async form of vhost_user_frontend_get_shmem_config(); finish with
 * vhost_user_frontend_get_shmem_config_finish().
 *
 * Since: 1.0
 */
void
vhost_user_frontend_get_shmem_config_async (VhostUserFrontend   *self,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data)
{
  g_auto(VhostUserBuilt) b = { 0 };
  GError *error = NULL;
  gboolean ok = vhost_user_frontend_check_layout (VHOST_USER_REQUEST_GET_SHMEM_CONFIG, VHOST_USER_PAYLOAD_NONE,
                                                  VHOST_USER_PAYLOAD_SHMEM_CONFIG, &error);

  vhost_user_frontend_send_built (self, VHOST_USER_REQUEST_GET_SHMEM_CONFIG, &b, ok, error,
                                  vhost_user_frontend_get_shmem_config_async, cancellable, callback, user_data);
}

/**
 * vhost_user_frontend_get_shmem_config_finish:
 * @self: a front-end
 * @result: the result passed to the callback
 * @n_sizes: (out): 256, the number of shared memory region ids
 * @error: return location for a #GError
 *
 * Finishes vhost_user_frontend_get_shmem_config_async().
 *
 * Returns: (array length=n_sizes) (transfer full) (nullable): the size of
 *   each region by id, 0 where there is none; %NULL with @error set
 *
 * Since: 1.0
 */
guint64 *
vhost_user_frontend_get_shmem_config_finish (VhostUserFrontend  *self,
                                             GAsyncResult       *result,
                                             guint              *n_sizes,
                                             GError            **error)
{
  g_autoptr(GBytes) reply = NULL;

  reply = vhost_user_frontend_finish_built (self, result, vhost_user_frontend_get_shmem_config_async, NULL, NULL,
                                            error);
  return parse_shmem_config (reply, n_sizes);
}
