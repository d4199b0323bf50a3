/* test-frontend-channel.c: our front-end and our back-end, across the back-end channel
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Both roles in one context: the front-end negotiates and opens the
 * back-end channel, the back-end sends every back-end request on it, and
 * the front-end's signals see them with their arguments; its default
 * answers and a handler's answers reach the back-end.
 */

#include <string.h>
#include <glib/gstdio.h>
#include <vhost-user-glib.h>

#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "test-util.h"
#include "vhost-user-message-private.h"
#include "vhost-user-socket-private.h"

typedef struct {
  VhostUserBackend  *backend;
  VhostUserFrontend *frontend;
  GPtrArray         *seen;      /* signal names on the front-end */
  char              *last_uuid;
  guint              last_index;
} Fixture;

static void
record_marshal (GClosure     *closure,
                GValue       *return_value,
                guint         n_param_values,
                const GValue *param_values,
                gpointer      invocation_hint,
                gpointer      marshal_data)
{
  Fixture *f = closure->data;
  GSignalInvocationHint *hint = invocation_hint;

  g_ptr_array_add (f->seen, g_strdup (g_signal_name (hint->signal_id)));
  if (n_param_values > 2 && G_VALUE_HOLDS_STRING (&param_values[2]))
    {
      g_free (f->last_uuid);
      f->last_uuid = g_value_dup_string (&param_values[2]);
    }
  if (n_param_values > 2 && G_VALUE_HOLDS_UINT (&param_values[2]))
    f->last_index = g_value_get_uint (&param_values[2]);
  g_value_set_boolean (return_value, FALSE);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) a = NULL;
  g_autoptr(GSocket) b = NULL;
  g_autofree guint *ids = NULL;
  guint n_ids;

  f->seen = g_ptr_array_new_with_free_func (g_free);
  f->backend = g_object_new (VHOST_USER_TYPE_BACKEND, "protocol-features", VHOST_USER_PROTOCOL_FEATURES_KNOWN, NULL);
  f->frontend = vhost_user_frontend_new ();
  g_assert_true (vhost_user_socket_pair (&a, &b, &error));
  g_assert_true (vhost_user_backend_take_socket (f->backend, a, &error));
  g_assert_true (vhost_user_frontend_take_socket (f->frontend, b, &error));
  g_assert_no_error (error);

  ids = g_signal_list_ids (VHOST_USER_TYPE_FRONTEND, &n_ids);
  for (guint i = 0; i < n_ids; i++)
    {
      GSignalQuery query;
      GClosure *closure;

      g_signal_query (ids[i], &query);
      if (query.return_type != G_TYPE_BOOLEAN)
        continue;
      closure = g_closure_new_simple (sizeof (GClosure), f);
      g_closure_set_marshal (closure, record_marshal);
      g_signal_connect_closure_by_id (f->frontend, ids[i], 0, closure, FALSE);
    }
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->frontend);
  g_clear_object (&f->backend);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_ptr_array_unref (f->seen);
  g_free (f->last_uuid);
}

static void
got (GObject      *source,
     GAsyncResult *result,
     gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static guint64
backend_request (Fixture                     *f,
                 VhostUserBackendRequestType  request,
                 GBytes                      *payload,
                 int                          fd,
                 GError                     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  vhost_user_backend_send_backend_request_async (f->backend, request, payload, fd, NULL, got, &result);
  /* the fd is borrowed: the library sent a copy */
  if (fd >= 0)
    close (fd);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return vhost_user_backend_send_backend_request_finish (f->backend, result, NULL, error);
}

static void
negotiate (Fixture *f,
           guint64  protocol)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_frontend_negotiate (f->frontend,
                                                VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1),
                                                protocol, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_setup_backend_channel (f->frontend, NULL, &error));
  g_assert_no_error (error);
}

static void
test_defaults (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) uuid = g_bytes_new ("\x12\x34\x56\x78\x9a\xbc\xde\xf0\x01\x02\x03\x04\x05\x06\x07\x08", 16);
  VhostUserWireVringState state = { 0, 0 };
  g_autoptr(GBytes) ring = g_bytes_new (&state, sizeof state);

  negotiate (f, VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
                VHOST_USER_PROTOCOL_FEATURE_CONFIG | VHOST_USER_PROTOCOL_FEATURE_SHARED_OBJECT |
                VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS | VHOST_USER_PROTOCOL_FEATURE_BACKEND_SEND_FD);

  /* the defaults: acknowledge config changes and in-band calls (of a
   * ring that was set up) */
  g_assert_true (vhost_user_frontend_set_vring_state (f->frontend, VHOST_USER_REQUEST_SET_VRING_NUM, 0, 64, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_backend_notify_config_change (f->backend, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (backend_request (f, VHOST_USER_BACKEND_REQUEST_VRING_CALL, ring, -1, &error), ==, 0);
  g_assert_no_error (error);

  /* and keep what the back-end shares: the exporter of a UUID */
  g_assert_cmpuint (backend_request (f, VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_ADD, uuid, -1, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpstr (f->last_uuid, ==, "12345678-9abc-def0-0102-030405060708");
  g_assert_true (vhost_user_object_registry_contains (vhost_user_frontend_get_object_registry (f->frontend),
                                                      "12345678-9ABC-DEF0-0102-030405060708"));

  g_assert_cmpuint (f->seen->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (f->seen, 0), ==, "config-change-msg");
  g_assert_cmpstr (g_ptr_array_index (f->seen, 1), ==, "vring-call");
  g_assert_cmpstr (g_ptr_array_index (f->seen, 2), ==, "shared-object-add");
}

/* In-band calls and errors name a ring: one the front-end never set up
 * is refused (NACK), and no signal is raised for it. */
static gboolean
refuse_first_channel (VhostUserBackend    *backend,
                      VhostUserInvocation *invocation,
                      int                  fd,
                      gpointer             user_data)
{
  guint *calls = user_data;

  if ((*calls)++ > 0)
    return FALSE;
  vhost_user_invocation_return_error_literal (invocation, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM, "not this one");
  return TRUE;
}

/* Two setups in flight: the second replaces the first's channel, and the
 * first then fails. Its failure must not close the second's channel,
 * even where the new channel took the old one's freed address (malloc
 * hands a freed block of the same size straight back). */
static void
test_setup_replaced (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) first = NULL;
  g_autoptr(GAsyncResult) second = NULL;
  guint calls = 0;

  g_assert_true (vhost_user_frontend_negotiate (f->frontend, VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1),
                                                VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ |
                                                VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
                                                VHOST_USER_PROTOCOL_FEATURE_CONFIG, NULL, &error));
  g_assert_no_error (error);
  g_signal_connect (f->backend, "set-backend-req-fd", G_CALLBACK (refuse_first_channel), &calls);

  vhost_user_frontend_setup_backend_channel_async (f->frontend, NULL, got, &first);
  vhost_user_frontend_setup_backend_channel_async (f->frontend, NULL, got, &second);
  while (first == NULL || second == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (vhost_user_frontend_setup_backend_channel_finish (f->frontend, first, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  g_clear_error (&error);
  g_assert_true (vhost_user_frontend_setup_backend_channel_finish (f->frontend, second, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (calls, ==, 2);

  /* the second channel still carries the back-end's requests */
  g_assert_true (vhost_user_backend_notify_config_change (f->backend, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->seen->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->seen, 0), ==, "config-change-msg");
}

static void
test_ring_index (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  VhostUserWireVringState state = { 0, 0 };
  g_autoptr(GBytes) ring0 = g_bytes_new (&state, sizeof state);
  g_autoptr(GBytes) ring1 = NULL;
  g_autoptr(GBytes) far = NULL;

  state.index = 1;
  ring1 = g_bytes_new (&state, sizeof state);
  state.index = G_MAXUINT32;
  far = g_bytes_new (&state, sizeof state);
  negotiate (f, VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
                VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS);

  /* no ring set up yet: not even ring 0 */
  backend_request (f, VHOST_USER_BACKEND_REQUEST_VRING_CALL, ring0, -1, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpuint (f->seen->len, ==, 0);

  /* ring 0 set up */
  g_assert_true (vhost_user_frontend_set_vring_state (f->frontend, VHOST_USER_REQUEST_SET_VRING_NUM, 0, 64, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (backend_request (f, VHOST_USER_BACKEND_REQUEST_VRING_CALL, ring0, -1, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpuint (backend_request (f, VHOST_USER_BACKEND_REQUEST_VRING_ERR, ring0, -1, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpuint (f->seen->len, ==, 2);

  backend_request (f, VHOST_USER_BACKEND_REQUEST_VRING_CALL, ring1, -1, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  backend_request (f, VHOST_USER_BACKEND_REQUEST_VRING_ERR, far, -1, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpuint (f->seen->len, ==, 2);
  g_assert_true (vhost_user_frontend_get_connected (f->frontend));
}

typedef struct {
  int   dup;
  guint fds_in_emission;
} KeptFd;

static gboolean
keep_notifier (VhostUserFrontend   *frontend,
               VhostUserInvocation *invocation,
               guint                index,
               guint64              size,
               guint64              offset,
               int                  fd,
               KeptFd              *kept)
{
  /* borrowed: valid now, and ours only as a duplicate */
  g_assert_cmpint (fd, >=, 0);
  kept->fds_in_emission = test_count_open_fds ();
  kept->dup = dup (fd);
  g_assert_cmpint (kept->dup, >=, 0);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/* The fd a front-end handler is given is the library's: closed once the
 * emission ends, while the handler's duplicate lives on. */
static void
test_handler_fd_borrowed (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  VhostUserWireVringArea area = { 0, 0x1000, 0 };
  g_autoptr(GBytes) payload = g_bytes_new (&area, sizeof area);
  KeptFd kept = { -1, 0 };
  int memfd = test_memfd (0x1000);
  struct stat a, b;

  g_assert_cmpint (fstat (memfd, &a), ==, 0);
  negotiate (f, VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
                VHOST_USER_PROTOCOL_FEATURE_HOST_NOTIFIER | VHOST_USER_PROTOCOL_FEATURE_BACKEND_SEND_FD);
  g_assert_true (vhost_user_frontend_set_vring_state (f->frontend, VHOST_USER_REQUEST_SET_VRING_NUM, 0, 64, NULL, &error));
  g_signal_connect (f->frontend, "vring-host-notifier-msg", G_CALLBACK (keep_notifier), &kept);
  /* (backend_request closes our memfd: the back-end sent a copy) */
  g_assert_cmpuint (backend_request (f, VHOST_USER_BACKEND_REQUEST_VRING_HOST_NOTIFIER_MSG, payload, memfd, &error),
                    ==, 0);
  g_assert_no_error (error);
  /* after the emission: the handler's duplicate, not the library's copy */
  g_assert_cmpuint (test_count_open_fds (), ==, kept.fds_in_emission);
  g_assert_cmpint (fstat (kept.dup, &b), ==, 0);
  g_assert_cmpuint (a.st_ino, ==, b.st_ino);
  g_close (kept.dup, NULL);
}

static gboolean
close_and_decline (VhostUserFrontend   *frontend,
                   VhostUserInvocation *invocation,
                   guint                index,
                   guint64              size,
                   guint64              offset,
                   int                  fd,
                   gpointer             user_data)
{
  vhost_user_frontend_close (frontend);
  return FALSE;
}

/* A handler that hangs up and leaves the request to the default: the
 * default must not keep the area of a back-end that is gone (its
 * disconnection forgot the others already, so this one would stay open
 * until the next). */
static void
test_handler_closes (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  VhostUserWireVringArea area = { 0, 0x1000, 0 };
  g_autoptr(GBytes) payload = g_bytes_new (&area, sizeof area);
  guint fds;

  negotiate (f, VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
                VHOST_USER_PROTOCOL_FEATURE_HOST_NOTIFIER | VHOST_USER_PROTOCOL_FEATURE_BACKEND_SEND_FD);
  g_assert_true (vhost_user_frontend_set_vring_state (f->frontend, VHOST_USER_REQUEST_SET_VRING_NUM, 0, 64, NULL, &error));
  g_assert_no_error (error);
  g_signal_connect (f->frontend, "vring-host-notifier-msg", G_CALLBACK (close_and_decline), NULL);
  fds = test_count_open_fds ();
  backend_request (f, VHOST_USER_BACKEND_REQUEST_VRING_HOST_NOTIFIER_MSG, payload, test_memfd (0x1000), &error);
  g_assert_nonnull (error);
  g_assert_cmpint (vhost_user_frontend_get_host_notifier (f->frontend, 0, NULL, NULL), ==, -1);
  /* the front-end's socket and channel are closed, and nothing was kept */
  g_assert_cmpuint (test_count_open_fds (), <, fds);
}

typedef struct {
  guint64 size, offset, file_size;
  int     fd;          /* the last area given, kept to truncate it */
} LyingArea;

static gboolean
give_lying_area (VhostUserBackend    *backend,
                 VhostUserInvocation *invocation,
                 guint                num_queues,
                 guint                queue_size,
                 LyingArea           *area)
{
  VhostUserWireInflight reply = { 0 };
  g_autoptr(GBytes) payload = NULL;

  if (area->fd >= 0)
    g_close (area->fd, NULL);
  area->fd = test_memfd (area->file_size);
  reply.mmap_size = area->size;
  reply.mmap_offset = area->offset;
  reply.num_queues = num_queues;
  reply.queue_size = queue_size;
  payload = g_bytes_new (&reply, sizeof reply);
  vhost_user_invocation_return_bytes (invocation, payload, area->fd);
  return TRUE;
}

static void
device_started (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  vhost_user_device_start_finish (VHOST_USER_DEVICE (source), result, &error);
  g_assert_no_error (error);
  *(gboolean *) user_data = TRUE;
}

/* A back-end's in-flight area is its word: its size and offset must fit
 * its fd without wrapping, within a bound. Before, each was taken as
 * given: a device's copy for a migration read before the mapping (a
 * wrapped offset) or past the file's end (SIGBUS). */
static void
test_inflight_lies (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  const struct { guint64 size, offset, file_size; } lies[] = {
    { 0x2000, 0, 0x1000 },                                   /* more than the file holds */
    { 0x1000, G_GUINT64_CONSTANT (0) - 0x800, 0x1000 },       /* offset + size wraps */
    { G_GUINT64_CONSTANT (2) << 30, 0, G_GUINT64_CONSTANT (2) << 30 },   /* 2 GiB (sparse) */
  };
  LyingArea area = { 0, 0, 0, -1 };
  guint fds;

  g_signal_connect (f->backend, "get-inflight-fd", G_CALLBACK (give_lying_area), &area);
  g_assert_true (vhost_user_frontend_negotiate (f->frontend, VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1),
                                                VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
                                                VHOST_USER_PROTOCOL_FEATURE_INFLIGHT_SHMFD, NULL, &error));
  g_assert_no_error (error);
  fds = test_count_open_fds ();
  for (guint i = 0; i < G_N_ELEMENTS (lies); i++)
    {
      g_autoptr(GAsyncResult) result = NULL;
      int fd;

      area.size = lies[i].size;
      area.offset = lies[i].offset;
      area.file_size = lies[i].file_size;
      vhost_user_frontend_get_inflight_fd_async (f->frontend, 1, 128, NULL, got, &result);
      while (result == NULL)
        g_main_context_iteration (NULL, TRUE);
      fd = vhost_user_frontend_get_inflight_fd_finish (f->frontend, result, NULL, NULL, &error);
      g_assert_cmpint (fd, ==, -1);
      g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE);
      g_clear_error (&error);
      /* the front-end kept nothing: the one fd more is the area the
       * handler keeps */
      g_assert_cmpuint (test_count_open_fds (), ==, fds + 1);
    }
  g_close (area.fd, NULL);
}

/* A sound area, truncated by the back-end once the device has it. */
static void
test_inflight_truncated (Fixture       *f,
                         gconstpointer  data)
{
  LyingArea area = { 0x1000, 0, 0x1000, -1 };
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMemoryRegion) memory = NULL;
  g_autoptr(VhostUserDriverRing) ring = NULL;
  g_autoptr(GAsyncResult) added = NULL;
  g_autoptr(VhostUserDevice) device = NULL;
  g_autoptr(GBytes) copy = NULL;
  gboolean started = FALSE;
  const char *preload = g_getenv ("LD_PRELOAD");

  /* The copy takes SIGBUS and the guard maps a page in its place: under
   * valgrind the memcpy it resumes is valgrind's own, which then writes
   * past its destination (its report, not ours: ASan sees no such
   * write). */
  if (preload != NULL && strstr (preload, "vgpreload") != NULL)
    {
      g_test_skip ("valgrind cannot resume its memcpy after the guard's SIGBUS");
      return;
    }
  g_signal_connect (f->backend, "get-inflight-fd", G_CALLBACK (give_lying_area), &area);
  /* a ring in memory, for the device to ask for an area */
  memory = vhost_user_memory_region_new_memfd (0, 0x10000, &error);
  g_assert_no_error (error);
  ring = vhost_user_driver_ring_new (memory, 0, 64, &error);
  g_assert_no_error (error);
  device = vhost_user_device_new (f->frontend, 1);
  g_assert_true (vhost_user_device_set_ring_addresses (device, 0, 64, vhost_user_driver_ring_get_desc_addr (ring),
                                                       vhost_user_driver_ring_get_avail_addr (ring),
                                                       vhost_user_driver_ring_get_used_addr (ring), &error));
  g_assert_no_error (error);
  vhost_user_device_add_memory_async (device, memory, NULL, got, &added);
  while (added == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (vhost_user_device_add_memory_finish (device, added, &error));
  g_assert_no_error (error);
  vhost_user_device_start_async (device, NULL, device_started, &started);
  while (!started)
    g_main_context_iteration (NULL, TRUE);
  copy = vhost_user_device_dup_inflight (device);
  g_assert_nonnull (copy);
  g_clear_pointer (&copy, g_bytes_unref);
  g_assert_cmpint (ftruncate (area.fd, 0), ==, 0);
  copy = vhost_user_device_dup_inflight (device);
  g_assert_null (copy);
  g_close (area.fd, NULL);
}

static gboolean
lookup_found (VhostUserFrontend   *frontend,
              VhostUserInvocation *invocation,
              const char          *uuid,
              gpointer             user_data)
{
  int fd = test_memfd (4096);

  /* borrowed: the reply carries a copy */
  vhost_user_invocation_return_fd (invocation, 0, fd);
  g_assert_cmpint (close (fd), ==, 0);
  return TRUE;
}

static void
test_handler_answers_with_fd (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) uuid = g_bytes_new ("0123456789abcdef", 16);
  g_autoptr(GAsyncResult) result = NULL;
  int fd = -1;

  negotiate (f, VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
                VHOST_USER_PROTOCOL_FEATURE_SHARED_OBJECT | VHOST_USER_PROTOCOL_FEATURE_BACKEND_SEND_FD);
  g_signal_connect (f->frontend, "shared-object-lookup", G_CALLBACK (lookup_found), NULL);

  vhost_user_backend_send_backend_request_async (f->backend, VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_LOOKUP,
                                                 uuid, -1, NULL, got, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (vhost_user_backend_send_backend_request_finish (f->backend, result, &fd, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  g_assert_true (test_fd_is_open (fd));
  g_close (fd, NULL);
}

static void
test_not_negotiated (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  /* no BACKEND_REQ: the front-end refuses to open the channel itself */
  g_assert_true (vhost_user_frontend_negotiate (f->frontend, 0, VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK, NULL, &error));
  g_assert_false (vhost_user_frontend_setup_backend_channel (f->frontend, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
}

/* SET_LOG_BASE is answered only with LOG_SHMFD: without it a reply would
 * put every later one out of step (a review found that). */
static void
test_log_base_without_shmfd (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  VhostUserWireLog log = { 0x1000, 0 };
  g_autoptr(GBytes) payload = g_bytes_new (&log, sizeof log);
  g_autoptr(GBytes) reply = NULL;
  guint64 features;

  for (guint ack = 0; ack < 2; ack++)
    {
      g_assert_true (vhost_user_frontend_negotiate (f->frontend,
                                                    VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1),
                                                    ack ? VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK : 0, NULL, &error));
      g_assert_no_error (error);
      reply = vhost_user_frontend_request (f->frontend, VHOST_USER_REQUEST_SET_LOG_BASE, payload, NULL,
                                           NULL, NULL, &error);
      g_assert_no_error (error);
      /* an acknowledgement (0) with REPLY_ACK, nothing without */
      g_assert_cmpuint (g_bytes_get_size (reply), ==, ack ? 8 : 0);
      g_clear_pointer (&reply, g_bytes_unref);

      features = vhost_user_frontend_get_u64 (f->frontend, VHOST_USER_REQUEST_GET_FEATURES, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (features, ==, vhost_user_backend_get_features (f->backend));

      /* a new session for the next round */
      vhost_user_frontend_close (f->frontend);
      fixture_teardown (f, NULL);
      fixture_setup (f, NULL);
    }
}

static void
done (GObject      *source,
      GAsyncResult *result,
      gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

/* The typed requests, blocking and async, against our own back-end,
 * whose state shows they arrived as meant. */
static void
test_typed (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMemoryRegion) low = NULL;
  g_autoptr(VhostUserMemoryRegion) high = NULL;
  g_autoptr(VhostUserMemoryTable) table = NULL;
  g_autoptr(GBytes) config = g_bytes_new_static ("abcdefghijklmnop", 16);
  g_autoptr(GBytes) mask = g_bytes_new_static ("\0\0\0\0\xff\xff\0\0\0\0\0\0\0\0\0\0", 16);
  g_autoptr(GBytes) write = g_bytes_new_static ("XY", 2);
  g_autoptr(GBytes) read_back = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  VhostUserMemoryRegion *pair[2];
  guint64 size = 0, offset = 1;
  int fd;

  vhost_user_backend_set_config (f->backend, config);
  vhost_user_backend_set_config_writable_mask (f->backend, mask);
  g_assert_true (vhost_user_frontend_negotiate (f->frontend, VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1),
                                                VHOST_USER_PROTOCOL_FEATURES_KNOWN, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_backend_get_owner (f->backend));
  g_assert_cmpuint (vhost_user_frontend_get_acked_protocol_features (f->frontend), ==,
                    vhost_user_backend_get_protocol_features (f->backend));

  /* a command: the status set, then reset by RESET_DEVICE */
  g_assert_true (vhost_user_frontend_set_u64 (f->frontend, VHOST_USER_REQUEST_SET_STATUS, 0xf, NULL, &error));
  g_assert_cmpuint (vhost_user_backend_get_status (f->backend), ==, 0xf);
  g_assert_true (vhost_user_frontend_command (f->frontend, VHOST_USER_REQUEST_RESET_DEVICE, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_backend_get_status (f->backend), ==, 0);
  g_assert_false (vhost_user_frontend_command (f->frontend, VHOST_USER_REQUEST_GET_FEATURES, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);

  /* config: a write where the mask allows, async, then read back */
  vhost_user_frontend_write_config_async (f->frontend, 4, 0, write, NULL, done, &result);
  g_assert_true (vhost_user_frontend_write_config_finish (f->frontend, wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  read_back = vhost_user_frontend_read_config (f->frontend, 0, 8, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (read_back, NULL), 8, "abcdXYgh", 8);
  g_assert_false (vhost_user_frontend_write_config (f->frontend, 0, 0, write, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  g_clear_error (&error);

  /* an in-flight area, and handing it back */
  fd = vhost_user_frontend_get_inflight_fd (f->frontend, 1, 128, &size, &offset, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpuint (size, >, 0);
  g_assert_cmpuint (offset, ==, 0);
  g_assert_true (vhost_user_frontend_set_inflight_fd (f->frontend, size, offset, 1, 128, fd, NULL, &error));
  g_assert_no_error (error);
  g_close (fd, NULL);

  /* guest memory: a table, then a region more, then one less */
  low = vhost_user_memory_region_new_memfd (0, 0x100000, &error);
  high = vhost_user_memory_region_new_memfd (0x100000000, 0x200000, &error);
  g_assert_no_error (error);
  strcpy (vhost_user_memory_region_get_host_addr (high), "high memory");
  pair[0] = low;
  table = vhost_user_memory_table_new (pair, 1, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_user_frontend_set_mem_table (f->frontend, table, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_memory_table_get_n_regions (vhost_user_backend_get_memory_table (f->backend)), ==, 1);

  vhost_user_frontend_add_mem_region_async (f->frontend, high, NULL, done, &result);
  g_assert_true (vhost_user_frontend_add_mem_region_finish (f->frontend, wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  {
    g_autoptr(GBytes) seen = vhost_user_memory_table_read_gpa (vhost_user_backend_get_memory_table (f->backend),
                                                               0x100000000, 12, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (g_bytes_get_data (seen, NULL), ==, "high memory");
  }
  g_assert_true (vhost_user_frontend_rem_mem_region (f->frontend, high, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_memory_table_get_n_regions (vhost_user_backend_get_memory_table (f->backend)), ==, 1);

  /* a ring, async */
  vhost_user_frontend_set_vring_state_async (f->frontend, VHOST_USER_REQUEST_SET_VRING_NUM, 0, 64, NULL, done, &result);
  g_assert_true (vhost_user_frontend_set_vring_state_finish (f->frontend, wait_result (&result), &error));
  g_clear_object (&result);
  g_assert_cmpuint (vhost_user_vring_get_size (vhost_user_backend_get_vring (f->backend, 0)), ==, 64);
  vhost_user_frontend_get_vring_base_async (f->frontend, 0, NULL, done, &result);
  g_assert_cmpuint (vhost_user_frontend_get_vring_base_finish (f->frontend, wait_result (&result), &error), ==, 0);
  g_assert_no_error (error);
  g_clear_object (&result);
  vhost_user_frontend_get_u64_async (f->frontend, VHOST_USER_REQUEST_GET_MAX_MEM_SLOTS, NULL, done, &result);
  g_assert_cmpuint (vhost_user_frontend_get_u64_finish (f->frontend, wait_result (&result), &error), ==,
                    vhost_user_backend_get_max_mem_slots (f->backend));
}

static gboolean
iotlb_ok (VhostUserBackend *backend, VhostUserInvocation *invocation, guint64 iova, guint64 size,
          guint64 user_addr, guint perm, guint type, gpointer user_data)
{
  guint64 *seen = user_data;

  seen[0] = iova;
  seen[1] = type;
  vhost_user_invocation_return_u64 (invocation, 0);
  return TRUE;
}

static gboolean
object_found (VhostUserBackend *backend, VhostUserInvocation *invocation, const char *uuid, gpointer user_data)
{
  int fd = test_memfd (4096);

  g_assert_cmpstr (uuid, ==, "12345678-9abc-def0-0102-030405060708");
  /* borrowed: the reply carries a copy */
  vhost_user_invocation_return_fd (invocation, 0, fd);
  g_assert_cmpint (close (fd), ==, 0);
  return TRUE;
}

static gboolean
state_own_fd (VhostUserBackend *backend, VhostUserInvocation *invocation, guint direction, guint phase,
              int fd, gpointer user_data)
{
  int own = test_eventfd ();

  g_assert_cmpuint (direction, ==, 0);
  g_assert_cmpint (fd, >=, 0);
  /* borrowed: the reply carries a copy */
  vhost_user_invocation_return_fd (invocation, 0, own);
  g_assert_cmpint (close (own), ==, 0);
  return TRUE;
}

/* The rarer requests' typed forms: each answered by a handler, or by the
 * default's refusal. */
static void
test_typed_rare (Fixture       *f,
                 gconstpointer  data)
{
  const guint64 access_platform = VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_ACCESS_PLATFORM);
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autofree guint64 *sizes = NULL;
  guint64 seen[2] = { 0, 0 };
  guint n_sizes = 0;
  int fd, out_fd = -1;

  vhost_user_backend_set_features (f->backend, vhost_user_backend_get_features (f->backend) | access_platform);
  g_assert_true (vhost_user_frontend_negotiate (f->frontend,
                                                VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1) |
                                                access_platform, VHOST_USER_PROTOCOL_FEATURES_KNOWN, NULL, &error));
  g_assert_no_error (error);

  /* the log, and its eventfd */
  fd = test_memfd (0x2000);
  g_assert_true (vhost_user_frontend_set_log_base (f->frontend, 0x1000, 0x1000, fd, NULL, &error));
  g_assert_no_error (error);
  g_close (fd, NULL);
  fd = test_eventfd ();
  vhost_user_frontend_send_fd_async (f->frontend, VHOST_USER_REQUEST_SET_LOG_FD, fd, NULL, done, &result);
  g_assert_true (vhost_user_frontend_send_fd_finish (f->frontend, wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_false (vhost_user_frontend_send_fd (f->frontend, VHOST_USER_REQUEST_SET_OWNER, fd, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_close (fd, NULL);

  /* IOTLB: refused by default, accepted by a handler */
  g_assert_false (vhost_user_frontend_send_iotlb_msg (f->frontend, 0x1000, 0x1000, 0x7000, 3, 2, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  g_clear_error (&error);
  g_signal_connect (f->backend, "iotlb-msg", G_CALLBACK (iotlb_ok), seen);
  g_assert_true (vhost_user_frontend_send_iotlb_msg (f->frontend, 0x1000, 0x1000, 0x7000, 3, 3, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmphex (seen[0], ==, 0x1000);
  g_assert_cmpuint (seen[1], ==, 3);

  /* a shared object: not found, then found */
  g_assert_cmpint (vhost_user_frontend_get_shared_object (f->frontend, "12345678-9abc-def0-0102-030405060708",
                                                          NULL, &error), ==, -1);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  g_clear_error (&error);
  g_assert_cmpint (vhost_user_frontend_get_shared_object (f->frontend, "not a uuid", NULL, &error), ==, -1);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_signal_connect (f->backend, "get-shared-object", G_CALLBACK (object_found), NULL);
  vhost_user_frontend_get_shared_object_async (f->frontend, "12345678-9abc-def0-0102-030405060708", NULL,
                                               done, &result);
  fd = vhost_user_frontend_get_shared_object_finish (f->frontend, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_true (test_fd_is_open (fd));
  g_close (fd, NULL);
  g_clear_object (&result);

  /* device state: refused by default; a handler gives its own fd */
  fd = test_eventfd ();
  g_assert_false (vhost_user_frontend_set_device_state_fd (f->frontend, 0, 0, fd, &out_fd, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  g_clear_error (&error);
  g_signal_connect (f->backend, "set-device-state-fd", G_CALLBACK (state_own_fd), NULL);
  g_assert_true (vhost_user_frontend_set_device_state_fd (f->frontend, 0, 0, fd, &out_fd, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (out_fd, >=, 0);
  g_close (out_fd, NULL);
  g_close (fd, NULL);

  /* no shared memory regions */
  sizes = vhost_user_frontend_get_shmem_config (f->frontend, &n_sizes, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n_sizes, ==, 256);
  for (guint i = 0; i < n_sizes; i++)
    g_assert_cmpuint (sizes[i], ==, 0);
}

#define SHARING (VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK | \
                 VHOST_USER_PROTOCOL_FEATURE_BACKEND_SEND_FD | VHOST_USER_PROTOCOL_FEATURE_HOST_NOTIFIER | \
                 VHOST_USER_PROTOCOL_FEATURE_INBAND_NOTIFICATIONS | VHOST_USER_PROTOCOL_FEATURE_SHARED_OBJECT | \
                 VHOST_USER_PROTOCOL_FEATURE_SHMEM | VHOST_USER_PROTOCOL_FEATURE_MQ)

static ino_t
inode_of (int fd)
{
  struct stat st;

  g_assert_cmpint (fstat (fd, &st), ==, 0);
  return st.st_ino;
}

static gboolean
record_ring (VhostUserFrontend   *frontend,
             VhostUserInvocation *invocation,
             guint                index,
             gpointer             user_data)
{
  guint *seen = user_data;

  seen[0]++;
  seen[1] = index;
  return FALSE;
}

/* Host notifiers, in-band errors and calls, typed, blocking and async;
 * the front-end's defaults record the notifier and acknowledge the rest. */
static void
test_typed_rings (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  guint errs[2] = { 0, 0 }, calls[2] = { 0, 0 };
  guint baseline;
  guint64 offset = 1, size = 1;
  int memfd = test_memfd (0x3000);
  int fd;

  vhost_user_backend_set_protocol_features (f->backend, vhost_user_backend_get_protocol_features (f->backend) | SHARING);
  negotiate (f, SHARING);
  g_assert_true (vhost_user_frontend_set_vring_state (f->frontend, VHOST_USER_REQUEST_SET_VRING_NUM, 0, 64, NULL, &error));
  g_assert_no_error (error);
  g_signal_connect (f->frontend, "vring-err", G_CALLBACK (record_ring), errs);
  g_signal_connect (f->frontend, "vring-call", G_CALLBACK (record_ring), calls);
  baseline = test_count_open_fds ();

  /* a notifier: the front-end keeps a duplicate of the back-end's area */
  g_assert_true (vhost_user_backend_set_host_notifier (f->backend, 0, memfd, 0x1000, 0x1000, NULL, &error));
  g_assert_no_error (error);
  fd = vhost_user_frontend_get_host_notifier (f->frontend, 0, &offset, &size);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (fd, !=, memfd);
  g_assert_cmpuint (inode_of (fd), ==, inode_of (memfd));
  g_assert_cmphex (offset, ==, 0x1000);
  g_assert_cmphex (size, ==, 0x1000);
  g_assert_cmpint (vhost_user_frontend_get_host_notifier (f->frontend, 1, NULL, NULL), ==, -1);
  g_assert_cmpuint (test_count_open_fds (), ==, baseline + 1);

  /* withdrawn, async: the duplicate is closed */
  vhost_user_backend_set_host_notifier_async (f->backend, 0, -1, 0, 0, NULL, got, &result);
  g_assert_true (vhost_user_backend_set_host_notifier_finish (f->backend, wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpint (vhost_user_frontend_get_host_notifier (f->frontend, 0, NULL, NULL), ==, -1);
  g_assert_cmpuint (test_count_open_fds (), ==, baseline);

  /* not whole pages, a queue the device does not have: refused before
   * anything is sent */
  g_assert_false (vhost_user_backend_set_host_notifier (f->backend, 0, memfd, 0, 100, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_false (vhost_user_backend_set_host_notifier (f->backend, 1, memfd, 0, 0x1000, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  /* past the end of the area's fd: the front-end refuses */
  g_assert_false (vhost_user_backend_set_host_notifier (f->backend, 0, memfd, 0x3000, 0x1000, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpint (vhost_user_frontend_get_host_notifier (f->frontend, 0, NULL, NULL), ==, -1);
  /* and by the front-end, when a back-end sends one anyway */
  {
    VhostUserWireVringArea area = { 0, 100, 0 };
    g_autoptr(GBytes) payload = g_bytes_new (&area, sizeof area);

    g_assert_cmpuint (backend_request (f, VHOST_USER_BACKEND_REQUEST_VRING_HOST_NOTIFIER_MSG, payload,
                                       dup (memfd), &error), ==, G_MAXUINT64);
    g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
    g_clear_error (&error);
    g_assert_cmpint (vhost_user_frontend_get_host_notifier (f->frontend, 0, NULL, NULL), ==, -1);
    g_assert_cmpuint (test_count_open_fds (), ==, baseline);
  }

  /* in-band errors and calls, both forms */
  g_assert_true (vhost_user_backend_send_vring_err (f->backend, 0, NULL, &error));
  g_assert_no_error (error);
  vhost_user_backend_send_vring_err_async (f->backend, 0, NULL, got, &result);
  g_assert_true (vhost_user_backend_send_vring_err_finish (f->backend, wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpuint (errs[0], ==, 2);
  g_assert_cmpuint (errs[1], ==, 0);
  g_assert_true (vhost_user_backend_send_vring_call (f->backend, 0, NULL, &error));
  g_assert_no_error (error);
  vhost_user_backend_send_vring_call_async (f->backend, 0, NULL, got, &result);
  g_assert_true (vhost_user_backend_send_vring_call_finish (f->backend, wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpuint (calls[0], ==, 2);
  g_assert_cmpuint (calls[1], ==, 0);
  g_assert_false (vhost_user_backend_send_vring_err (f->backend, 1, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);

  /* the notifier goes with the back-end */
  g_assert_true (vhost_user_backend_set_host_notifier (f->backend, 0, memfd, 0, 0x1000, NULL, &error));
  g_assert_no_error (error);
  vhost_user_frontend_close (f->frontend);
  g_assert_cmpint (vhost_user_frontend_get_host_notifier (f->frontend, 0, NULL, NULL), ==, -1);
  g_close (memfd, NULL);
}

static gboolean
record_iotlb (VhostUserFrontend   *frontend,
              VhostUserInvocation *invocation,
              guint64              iova,
              guint64              size,
              guint64              user_addr,
              guint                perm,
              guint                type,
              gpointer             user_data)
{
  guint64 *seen = user_data;

  seen[0] = iova;
  seen[1] = perm;
  seen[2] = type;
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/* The back-end reports an access the IOMMU denied, both forms. */
static void
test_iotlb_access_fail (Fixture       *f,
                        gconstpointer  data)
{
  const guint64 access_platform = VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_ACCESS_PLATFORM);
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  guint64 seen[3] = { 0, 0, 0 };

  vhost_user_backend_set_features (f->backend, vhost_user_backend_get_features (f->backend) | access_platform);
  g_assert_true (vhost_user_frontend_negotiate (f->frontend,
                                                VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1) |
                                                access_platform, SHARING, NULL, &error));
  g_assert_true (vhost_user_frontend_setup_backend_channel (f->frontend, NULL, &error));
  g_assert_no_error (error);
  g_signal_connect (f->frontend, "iotlb-msg", G_CALLBACK (record_iotlb), seen);

  g_assert_true (vhost_user_backend_send_iotlb_access_fail (f->backend, 0x5000, 2, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmphex (seen[0], ==, 0x5000);
  g_assert_cmpuint (seen[1], ==, 2);
  g_assert_cmpuint (seen[2], ==, 4);
  vhost_user_backend_send_iotlb_access_fail_async (f->backend, 0x7000, 1, NULL, got, &result);
  g_assert_true (vhost_user_backend_send_iotlb_access_fail_finish (f->backend, wait_result (&result), &error));
  g_assert_no_error (error);
  g_assert_cmphex (seen[0], ==, 0x7000);
  g_assert_cmpuint (seen[1], ==, 1);
  g_assert_false (vhost_user_backend_send_iotlb_access_fail (f->backend, 0x7000, 0, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
}

/* A second back-end and its front-end, in this context, negotiated and
 * with the back-end channel, sharing @registry. */
static void
pair_new (VhostUserObjectRegistry  *registry,
          VhostUserBackend        **backend,
          VhostUserFrontend       **frontend)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) a = NULL;
  g_autoptr(GSocket) b = NULL;

  *backend = g_object_new (VHOST_USER_TYPE_BACKEND, "protocol-features", VHOST_USER_PROTOCOL_FEATURES_KNOWN, NULL);
  *frontend = g_object_new (VHOST_USER_TYPE_FRONTEND, "object-registry", registry, NULL);
  g_assert_true (vhost_user_socket_pair (&a, &b, &error));
  g_assert_true (vhost_user_backend_take_socket (*backend, a, &error));
  g_assert_true (vhost_user_frontend_take_socket (*frontend, b, &error));
  g_assert_true (vhost_user_frontend_negotiate (*frontend, VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1),
                                                SHARING, NULL, &error));
  g_assert_true (vhost_user_frontend_setup_backend_channel (*frontend, NULL, &error));
  g_assert_no_error (error);
}

#define UUID_A "0a0b0c0d-1111-2222-3333-444455556666"
#define UUID_V "feedface-0000-4000-8000-000000000001"

/* Two devices share objects through their front-ends' registry: one
 * exports (the fd stays in its back-end), the other imports it, the
 * front-end proxying with GET_SHARED_OBJECT; the VMM's own objects too. */
static void
test_shared_objects (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(VhostUserObjectRegistry) registry = vhost_user_object_registry_new ();
  g_autoptr(VhostUserBackend) importer = NULL;
  g_autoptr(VhostUserFrontend) importer_fe = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  int object = test_memfd (0x1000), vmm_object = test_memfd (0x2000);
  guint baseline;
  int fd;

  vhost_user_backend_set_protocol_features (f->backend, vhost_user_backend_get_protocol_features (f->backend) | SHARING);
  vhost_user_frontend_set_object_registry (f->frontend, registry);
  g_assert_true (vhost_user_frontend_get_object_registry (f->frontend) == registry);
  negotiate (f, SHARING);
  pair_new (registry, &importer, &importer_fe);
  baseline = test_count_open_fds ();

  /* exported: the back-end keeps a duplicate, the registry the exporter */
  g_assert_true (vhost_user_backend_add_shared_object (f->backend, UUID_A, object, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_object_registry_contains (registry, UUID_A));
  g_assert_cmpuint (vhost_user_object_registry_get_n_objects (registry), ==, 1);
  g_assert_cmpuint (test_count_open_fds (), ==, baseline + 1);

  /* imported by the other device, async and blocking: the same object */
  vhost_user_backend_lookup_shared_object_async (importer, UUID_A, NULL, got, &result);
  fd = vhost_user_backend_lookup_shared_object_finish (importer, wait_result (&result), &error);
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpuint (inode_of (fd), ==, inode_of (object));
  g_close (fd, NULL);
  fd = vhost_user_backend_lookup_shared_object (importer, "0A0B0C0D111122223333444455556666", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (inode_of (fd), ==, inode_of (object));
  g_close (fd, NULL);
  /* the exporter's own lookup needs nobody */
  fd = vhost_user_backend_lookup_shared_object (f->backend, UUID_A, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (inode_of (fd), ==, inode_of (object));
  g_close (fd, NULL);
  /* and the front-end's GET_SHARED_OBJECT is answered from the exporter's table */
  fd = vhost_user_frontend_get_shared_object (f->frontend, UUID_A, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (inode_of (fd), ==, inode_of (object));
  g_close (fd, NULL);
  g_assert_cmpuint (test_count_open_fds (), ==, baseline + 1);

  /* the VMM's own object */
  g_assert_true (vhost_user_object_registry_add_fd (registry, UUID_V, vmm_object, &error));
  g_assert_no_error (error);
  fd = vhost_user_backend_lookup_shared_object (importer, UUID_V, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (inode_of (fd), ==, inode_of (vmm_object));
  g_close (fd, NULL);
  g_assert_true (vhost_user_object_registry_remove (registry, UUID_V));
  g_assert_false (vhost_user_object_registry_contains (registry, UUID_V));
  g_assert_cmpuint (test_count_open_fds (), ==, baseline + 1);

  /* an unknown UUID: not found, and no fd */
  g_assert_cmpint (vhost_user_backend_lookup_shared_object (importer, UUID_V, NULL, &error), ==, -1);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpint (vhost_user_backend_lookup_shared_object (importer, "not-a-uuid", NULL, &error), ==, -1);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_cmpuint (test_count_open_fds (), ==, baseline + 1);

  /* a UUID that has an exporter is not another's: refused, and the
   * refused back-end forgets its fd */
  g_assert_false (vhost_user_backend_add_shared_object (importer, UUID_A, vmm_object, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpuint (test_count_open_fds (), ==, baseline + 1);
  /* nor may another remove it: not even sent by ours, refused by the
   * front-end when a back-end sends it anyway */
  g_assert_false (vhost_user_backend_remove_shared_object (importer, UUID_A, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  {
    g_autoptr(GBytes) uuid = g_bytes_new ("\x0a\x0b\x0c\x0d\x11\x11\x22\x22\x33\x33\x44\x44\x55\x55\x66\x66", 16);

    vhost_user_backend_send_backend_request_async (importer, VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_REMOVE, uuid,
                                                   -1, NULL, got, &result);
    g_assert_cmpuint (vhost_user_backend_send_backend_request_finish (importer, wait_result (&result), NULL, &error),
                      ==, G_MAXUINT64);
    g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
    g_clear_error (&error);
    g_clear_object (&result);
  }
  g_assert_true (vhost_user_object_registry_contains (registry, UUID_A));

  /* the exporter removes it, async: gone from both */
  vhost_user_backend_remove_shared_object_async (f->backend, UUID_A, NULL, got, &result);
  g_assert_true (vhost_user_backend_remove_shared_object_finish (f->backend, wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_false (vhost_user_object_registry_contains (registry, UUID_A));
  g_assert_cmpuint (test_count_open_fds (), ==, baseline);
  g_assert_cmpint (vhost_user_frontend_get_shared_object (f->frontend, UUID_A, NULL, &error), ==, -1);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_BACKEND_INTERNAL);
  g_clear_error (&error);

  /* exported again (async), then the exporter disconnects: its objects go */
  vhost_user_backend_add_shared_object_async (f->backend, UUID_A, object, NULL, got, &result);
  g_assert_true (vhost_user_backend_add_shared_object_finish (f->backend, wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_true (vhost_user_object_registry_contains (registry, UUID_A));
  vhost_user_frontend_close (f->frontend);
  g_assert_false (vhost_user_object_registry_contains (registry, UUID_A));
  g_assert_cmpint (vhost_user_backend_lookup_shared_object (importer, UUID_A, NULL, &error), ==, -1);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);

  vhost_user_frontend_close (importer_fe);
  g_close (object, NULL);
  g_close (vmm_object, NULL);
}

/* A shmem map or unmap as the wire has it, for what our back-end's typed
 * calls refuse to send. */
static guint64
raw_shmem (Fixture  *f,
           gboolean  map,
           guint     shmid,
           guint64   shm_offset,
           guint64   len,
           guint64   flags,
           GError  **error)
{
  VhostUserWireShmemMap wire = { shmid, { 0 }, 0, shm_offset, len, flags };
  g_autoptr(GBytes) payload = g_bytes_new (&wire, sizeof wire);

  return backend_request (f, map ? VHOST_USER_BACKEND_REQUEST_SHMEM_MAP : VHOST_USER_BACKEND_REQUEST_SHMEM_UNMAP,
                          payload, map ? test_memfd (0x1000) : -1, error);
}

static void
test_shmem (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autofree guint64 *sizes = NULL;
  guint n_sizes = 0, baseline;
  guint64 start = 1, len = 1, fd_offset = 1;
  gboolean writable = FALSE;
  int memfd = test_memfd (0x4000);
  int fd;

  /* two regions declared; bad declarations refused */
  g_assert_true (vhost_user_backend_set_shmem_region (f->backend, 0, 0x10000, &error));
  g_assert_true (vhost_user_backend_set_shmem_region (f->backend, 3, 0x4000, &error));
  g_assert_no_error (error);
  g_assert_false (vhost_user_backend_set_shmem_region (f->backend, 256, 0x1000, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_false (vhost_user_backend_set_shmem_region (f->backend, 1, 100, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_cmphex (vhost_user_backend_get_shmem_region (f->backend, 3), ==, 0x4000);
  g_assert_cmphex (vhost_user_backend_get_shmem_region (f->backend, 1), ==, 0);

  vhost_user_backend_set_protocol_features (f->backend, vhost_user_backend_get_protocol_features (f->backend) | SHARING);
  negotiate (f, SHARING | VHOST_USER_PROTOCOL_FEATURE_RESET_DEVICE);
  baseline = test_count_open_fds ();

  /* before the front-end read the regions, it maps nothing */
  g_assert_false (vhost_user_backend_shmem_map (f->backend, 0, 0, memfd, 0, 0x1000, TRUE, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);

  /* GET_SHMEM_CONFIG answers with the regions declared */
  sizes = vhost_user_frontend_get_shmem_config (f->frontend, &n_sizes, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n_sizes, ==, 256);
  for (guint i = 0; i < n_sizes; i++)
    g_assert_cmphex (sizes[i], ==, i == 0 ? 0x10000 : i == 3 ? 0x4000 : 0);

  /* a mapping, blocking: recorded with a duplicate of the fd */
  g_assert_true (vhost_user_backend_shmem_map (f->backend, 0, 0x2000, memfd, 0x1000, 0x2000, TRUE, NULL, &error));
  g_assert_no_error (error);
  fd = vhost_user_frontend_lookup_shmem_mapping (f->frontend, 0, 0x3fff, &start, &len, &fd_offset, &writable);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpuint (inode_of (fd), ==, inode_of (memfd));
  g_assert_cmphex (start, ==, 0x2000);
  g_assert_cmphex (len, ==, 0x2000);
  g_assert_cmphex (fd_offset, ==, 0x1000);
  g_assert_true (writable);
  g_assert_cmpint (vhost_user_frontend_lookup_shmem_mapping (f->frontend, 0, 0x4000, NULL, NULL, NULL, NULL), ==, -1);
  g_assert_cmpint (vhost_user_frontend_lookup_shmem_mapping (f->frontend, 3, 0x2000, NULL, NULL, NULL, NULL), ==, -1);
  /* another, async, read only, in the other region */
  vhost_user_backend_shmem_map_async (f->backend, 3, 0, memfd, 0, 0x4000, FALSE, NULL, got, &result);
  g_assert_true (vhost_user_backend_shmem_map_finish (f->backend, wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpint (vhost_user_frontend_lookup_shmem_mapping (f->frontend, 3, 0, NULL, NULL, NULL, &writable), >=, 0);
  g_assert_false (writable);
  g_assert_cmpuint (vhost_user_frontend_get_n_shmem_mappings (f->frontend), ==, 2);
  g_assert_cmpuint (test_count_open_fds (), ==, baseline + 2);

  /* bad maps, each refused with nothing mapped or kept: an overlap */
  g_assert_false (vhost_user_backend_shmem_map (f->backend, 0, 0x3000, memfd, 0, 0x2000, TRUE, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_false (vhost_user_backend_shmem_map (f->backend, 0, 0x1000, memfd, 0, 0x4000, TRUE, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  /* beyond the end of the fd */
  g_assert_false (vhost_user_backend_shmem_map (f->backend, 0, 0x8000, memfd, 0x3000, 0x2000, TRUE, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  /* past the region's end, into a region the device lacks, not whole
   * pages: our back-end does not send them ... */
  g_assert_false (vhost_user_backend_shmem_map (f->backend, 0, 0xf000, memfd, 0, 0x2000, TRUE, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_false (vhost_user_backend_shmem_map (f->backend, 5, 0, memfd, 0, 0x1000, TRUE, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  g_assert_false (vhost_user_backend_shmem_map (f->backend, 0, 0x8000, memfd, 0, 0x800, TRUE, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM);
  g_clear_error (&error);
  /* ... and the front-end refuses them from a back-end that does, as
   * it does a wrapping range, a zero length and unknown flags */
  raw_shmem (f, TRUE, 0, 0xf000, 0x2000, 1, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  raw_shmem (f, TRUE, 5, 0, 0x1000, 1, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  raw_shmem (f, TRUE, 0, 0x8000, G_MAXUINT64 - 0x7fff, 1, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  raw_shmem (f, TRUE, 0, 0x8000, 0, 1, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  raw_shmem (f, TRUE, 0, 0x8000, 0x1000, 0x3, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpuint (vhost_user_frontend_get_n_shmem_mappings (f->frontend), ==, 2);
  g_assert_cmpuint (test_count_open_fds (), ==, baseline + 2);
  /* the flags that are known map */
  g_assert_cmpuint (raw_shmem (f, TRUE, 0, 0x8000, 0x1000, 0, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpuint (test_count_open_fds (), ==, baseline + 3);

  /* an unmap must name a whole mapping */
  g_assert_false (vhost_user_backend_shmem_unmap (f->backend, 0, 0x2000, 0x1000, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  raw_shmem (f, FALSE, 0, 0x2000, 0x2000 + 0x10000, 0, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpuint (vhost_user_frontend_get_n_shmem_mappings (f->frontend), ==, 3);
  g_assert_true (vhost_user_backend_shmem_unmap (f->backend, 0, 0x2000, 0x2000, NULL, &error));
  g_assert_no_error (error);
  vhost_user_backend_shmem_unmap_async (f->backend, 3, 0, 0x4000, NULL, got, &result);
  g_assert_true (vhost_user_backend_shmem_unmap_finish (f->backend, wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpuint (vhost_user_frontend_get_n_shmem_mappings (f->frontend), ==, 1);
  g_assert_cmpint (vhost_user_frontend_lookup_shmem_mapping (f->frontend, 0, 0x2000, NULL, NULL, NULL, NULL), ==, -1);
  g_assert_cmpuint (test_count_open_fds (), ==, baseline + 1);

  /* a reset undoes what is left */
  g_assert_true (vhost_user_frontend_command (f->frontend, VHOST_USER_REQUEST_RESET_DEVICE, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_frontend_get_n_shmem_mappings (f->frontend), ==, 0);
  g_assert_cmpuint (test_count_open_fds (), ==, baseline);
  g_close (memfd, NULL);
}


/* A back-end mapping page after page: 1024 mappings, each holding an fd
 * of the VMM's, and no more; the fds go with the reset. */
/* A back-end exporting UUID after UUID: at most 4096 are kept, and a
 * removal makes room again. */
static void
test_shared_objects_many (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  VhostUserObjectRegistry *registry = vhost_user_frontend_get_object_registry (f->frontend);
  const guint most = 4096;
  guint8 uuid[16] = { 0 };
  g_autoptr(GBytes) first = NULL;

  negotiate (f, VHOST_USER_PROTOCOL_FEATURE_BACKEND_REQ | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
                VHOST_USER_PROTOCOL_FEATURE_SHARED_OBJECT);
  for (guint i = 0; i <= most; i++)
    {
      g_autoptr(GBytes) payload = NULL;
      guint64 status;

      memcpy (uuid, &i, sizeof i);
      payload = g_bytes_new (uuid, sizeof uuid);
      if (i == 0)
        first = g_bytes_ref (payload);
      status = backend_request (f, VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_ADD, payload, -1, &error);
      if (i < most)
        {
          g_assert_no_error (error);
          g_assert_cmpuint (status, ==, 0);
        }
      else
        {
          g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
          g_clear_error (&error);
        }
    }
  g_assert_cmpuint (vhost_user_object_registry_get_n_objects (registry), ==, most);

  g_assert_cmpuint (backend_request (f, VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_REMOVE, first, -1, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpuint (backend_request (f, VHOST_USER_BACKEND_REQUEST_SHARED_OBJECT_ADD, first, -1, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_object_registry_get_n_objects (registry), ==, most);

  /* the back-end's objects go with it */
  vhost_user_frontend_close (f->frontend);
  g_assert_cmpuint (vhost_user_object_registry_get_n_objects (registry), ==, 0);
}

static void
test_shmem_many (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint64 *sizes = NULL;
  guint n_sizes = 0, baseline;
  const guint most = 1024;
  struct rlimit limit;

  /* more fds than the usual soft limit of 1024 */
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &limit), ==, 0);
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < 2 * most)
    {
      g_test_skip ("RLIMIT_NOFILE's hard limit is too low for 1024 mappings");
      return;
    }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < 2 * most)
    {
      limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? 2 * most : limit.rlim_max;
      g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &limit), ==, 0);
    }

  g_assert_true (vhost_user_backend_set_shmem_region (f->backend, 0, 0x1000 * (guint64) (most + 8), &error));
  vhost_user_backend_set_protocol_features (f->backend, vhost_user_backend_get_protocol_features (f->backend) | SHARING);
  negotiate (f, SHARING | VHOST_USER_PROTOCOL_FEATURE_RESET_DEVICE);
  sizes = vhost_user_frontend_get_shmem_config (f->frontend, &n_sizes, NULL, &error);
  g_assert_no_error (error);
  baseline = test_count_open_fds ();

  for (guint i = 0; i < most; i++)
    {
      g_assert_cmpuint (raw_shmem (f, TRUE, 0, 0x1000 * (guint64) i, 0x1000, 0, &error), ==, 0);
      g_assert_no_error (error);
    }
  g_assert_cmpuint (vhost_user_frontend_get_n_shmem_mappings (f->frontend), ==, most);
  raw_shmem (f, TRUE, 0, 0x1000 * (guint64) most, 0x1000, 0, &error);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpuint (vhost_user_frontend_get_n_shmem_mappings (f->frontend), ==, most);
  g_assert_cmpuint (test_count_open_fds (), ==, baseline + most);

  g_assert_true (vhost_user_frontend_command (f->frontend, VHOST_USER_REQUEST_RESET_DEVICE, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_frontend_get_n_shmem_mappings (f->frontend), ==, 0);
  g_assert_cmpuint (test_count_open_fds (), ==, baseline);
}

/* A later GET_SHMEM_CONFIG that shrinks or drops a region takes the
 * mappings that no longer lie wholly inside it with it (from a review:
 * they were kept, fds and all, past the region's new end): the guest
 * cannot reach them, and a region that grows again maps afresh there. */
static void
test_shmem_shrunk (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint64 *sizes = NULL;
  guint n_sizes = 0, baseline;
  int memfd = test_memfd (0x4000);

  g_assert_true (vhost_user_backend_set_shmem_region (f->backend, 0, 0x10000, &error));
  g_assert_true (vhost_user_backend_set_shmem_region (f->backend, 3, 0x4000, &error));
  vhost_user_backend_set_protocol_features (f->backend, vhost_user_backend_get_protocol_features (f->backend) | SHARING);
  negotiate (f, SHARING);
  sizes = vhost_user_frontend_get_shmem_config (f->frontend, &n_sizes, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&sizes, g_free);
  baseline = test_count_open_fds ();

  /* region 0: one mapping inside what is left of it, one across its new
   * end, one beyond; region 3, which goes, one */
  g_assert_true (vhost_user_backend_shmem_map (f->backend, 0, 0, memfd, 0, 0x1000, TRUE, NULL, &error));
  g_assert_true (vhost_user_backend_shmem_map (f->backend, 0, 0x3000, memfd, 0, 0x2000, TRUE, NULL, &error));
  g_assert_true (vhost_user_backend_shmem_map (f->backend, 0, 0x8000, memfd, 0, 0x1000, TRUE, NULL, &error));
  g_assert_true (vhost_user_backend_shmem_map (f->backend, 3, 0, memfd, 0, 0x1000, FALSE, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_frontend_get_n_shmem_mappings (f->frontend), ==, 4);

  g_assert_true (vhost_user_backend_set_shmem_region (f->backend, 0, 0x4000, &error));
  g_assert_true (vhost_user_backend_set_shmem_region (f->backend, 3, 0, &error));
  sizes = vhost_user_frontend_get_shmem_config (f->frontend, &n_sizes, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&sizes, g_free);
  g_assert_cmpuint (vhost_user_frontend_get_n_shmem_mappings (f->frontend), ==, 1);
  g_assert_cmpint (vhost_user_frontend_lookup_shmem_mapping (f->frontend, 0, 0, NULL, NULL, NULL, NULL), >=, 0);
  g_assert_cmpint (vhost_user_frontend_lookup_shmem_mapping (f->frontend, 0, 0x3000, NULL, NULL, NULL, NULL), ==, -1);
  g_assert_cmpint (vhost_user_frontend_lookup_shmem_mapping (f->frontend, 0, 0x8000, NULL, NULL, NULL, NULL), ==, -1);
  g_assert_cmpint (vhost_user_frontend_lookup_shmem_mapping (f->frontend, 3, 0, NULL, NULL, NULL, NULL), ==, -1);
  g_assert_cmpuint (test_count_open_fds (), ==, baseline + 1);

  /* what was dropped is in nobody's way */
  g_assert_true (vhost_user_backend_shmem_map (f->backend, 0, 0x3000, memfd, 0, 0x1000, TRUE, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_backend_set_shmem_region (f->backend, 0, 0x10000, &error));
  sizes = vhost_user_frontend_get_shmem_config (f->frontend, &n_sizes, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_user_backend_shmem_map (f->backend, 0, 0x8000, memfd, 0, 0x2000, TRUE, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_frontend_get_n_shmem_mappings (f->frontend), ==, 3);
  g_assert_cmpuint (test_count_open_fds (), ==, baseline + 3);

  /* a config that shrinks nothing keeps everything */
  g_clear_pointer (&sizes, g_free);
  sizes = vhost_user_frontend_get_shmem_config (f->frontend, &n_sizes, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_user_frontend_get_n_shmem_mappings (f->frontend), ==, 3);
  g_close (memfd, NULL);
}

static gboolean
keep_channel (VhostUserBackend    *backend,
              VhostUserInvocation *invocation,
              int                  fd,
              int                 *kept)
{
  *kept = dup (fd);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

/* A back-end that sends nine fds with a request (the channel takes at
 * most eight): refused, and none of them kept. */
static void
test_too_many_fds (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  VhostUserWireShmemMap wire = { 0, { 0 }, 0, 0, 0x1000, 1 };
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE (sizeof (int) * 9)];
  } control;
  struct msghdr mh = { 0 };
  struct iovec iov;
  struct cmsghdr *c;
  int fds[9];
  int kept = -1;
  guint baseline;
  gsize size;
  guint8 reply[VHOST_USER_HEADER_SIZE + 8];
  VhostUserWireHeader header;
  guint64 value;
  gssize got_bytes = 0;
  gint64 deadline;

  g_assert_true (vhost_user_backend_set_shmem_region (f->backend, 0, 0x10000, &error));
  vhost_user_backend_set_protocol_features (f->backend, vhost_user_backend_get_protocol_features (f->backend) | SHARING);
  /* the channel's other end is the test's, not the back-end's */
  g_signal_connect (f->backend, "set-backend-req-fd", G_CALLBACK (keep_channel), &kept);
  negotiate (f, SHARING);
  g_assert_cmpint (kept, >=, 0);
  g_free (vhost_user_frontend_get_shmem_config (f->frontend, &(guint) { 0 }, NULL, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    fds[i] = test_memfd (0x1000);
  baseline = test_count_open_fds ();
  vhost_user_message_init (&msg, VHOST_USER_BACKEND_REQUEST_SHMEM_MAP, VHOST_USER_FLAG_NEED_REPLY);
  vhost_user_message_set_payload (&msg, &wire, sizeof wire);
  iov.iov_base = (void *) vhost_user_message_get_data (&msg, &size);
  iov.iov_len = size;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  memset (control.buf, 0, sizeof control.buf);
  mh.msg_control = control.buf;
  mh.msg_controllen = sizeof control.buf;
  c = CMSG_FIRSTHDR (&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN (sizeof fds);
  memcpy (CMSG_DATA (c), fds, sizeof fds);
  g_assert_cmpint (sendmsg (kept, &mh, MSG_NOSIGNAL), ==, (gssize) size);
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    g_close (fds[i], NULL);

  /* a NACK, once the front-end's context has read it */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (got_bytes < (gssize) sizeof reply && g_get_monotonic_time () < deadline)
    {
      gssize n = recv (kept, reply + got_bytes, sizeof reply - got_bytes, MSG_DONTWAIT);

      if (n > 0)
        got_bytes += n;
      else if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
  g_assert_cmpint (got_bytes, ==, sizeof reply);
  memcpy (&header, reply, sizeof header);
  memcpy (&value, reply + VHOST_USER_HEADER_SIZE, sizeof value);
  g_assert_cmpuint (header.request, ==, VHOST_USER_BACKEND_REQUEST_SHMEM_MAP);
  g_assert_cmpuint (header.flags & VHOST_USER_FLAG_REPLY, !=, 0);
  g_assert_cmpuint (header.size, ==, 8);
  g_assert_cmpuint (value, !=, 0);
  g_assert_cmpuint (vhost_user_frontend_get_n_shmem_mappings (f->frontend), ==, 0);
  /* every fd that came is closed: the nine copies are gone with ours */
  g_assert_cmpuint (test_count_open_fds (), ==, baseline - G_N_ELEMENTS (fds));
  g_assert_true (vhost_user_frontend_get_connected (f->frontend));
  g_close (kept, NULL);
}

static void
on_gone (VhostUserBackend *backend,
         const GError     *error,
         gboolean          should_reconnect,
         gpointer          user_data)
{
  *(gboolean *) user_data = TRUE;
}

static gpointer
backend_connects (gpointer data)
{
  const char *path = data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(VhostUserBackend) backend = NULL;
  g_autoptr(GError) error = NULL;
  gboolean disconnected = FALSE;

  g_main_context_push_thread_default (context);
  backend = vhost_user_backend_new ();
  g_signal_connect (backend, "disconnected", G_CALLBACK (on_gone), &disconnected);
  g_assert_true (vhost_user_backend_connect_to_path (backend, path, 10000, NULL, &error));
  g_assert_no_error (error);
  /* served until the front-end hangs up */
  while (!disconnected)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);
  return NULL;
}

/* QEMU's server=on, from our side: the front-end listens, the back-end
 * connects. */
static void
test_listen (void)
{
  g_autoptr(VhostUserFrontend) frontend = vhost_user_frontend_new ();
  g_autoptr(GError) error = NULL;
  char *path = test_socket_path_new ("fe.sock");
  GThread *thread = g_thread_new ("back-end", backend_connects, path);
  guint64 features;

  g_assert_true (vhost_user_frontend_listen_on_path (frontend, path, 10000, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  features = vhost_user_frontend_get_u64 (frontend, VHOST_USER_REQUEST_GET_FEATURES, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_PROTOCOL_FEATURES));
  vhost_user_frontend_close (frontend);
  g_thread_join (thread);
  test_socket_path_free (path);
}

static void
test_listen_timeout (void)
{
  g_autoptr(VhostUserFrontend) frontend = vhost_user_frontend_new ();
  g_autoptr(GError) error = NULL;
  char *path = test_socket_path_new ("nobody.sock");

  g_assert_false (vhost_user_frontend_listen_on_path (frontend, path, 200, NULL, &error));
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_CONNECT);
  test_socket_path_free (path);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add ("/frontend-channel/defaults", Fixture, NULL, fixture_setup, test_defaults, fixture_teardown);
  g_test_add ("/frontend-channel/setup-replaced", Fixture, NULL, fixture_setup, test_setup_replaced, fixture_teardown);
  g_test_add ("/frontend-channel/ring-index", Fixture, NULL, fixture_setup, test_ring_index, fixture_teardown);
  g_test_add ("/frontend-channel/handler-fd-borrowed", Fixture, NULL, fixture_setup, test_handler_fd_borrowed,
              fixture_teardown);
  g_test_add ("/frontend-channel/handler-closes", Fixture, NULL, fixture_setup, test_handler_closes, fixture_teardown);
  g_test_add ("/frontend-channel/inflight-lies", Fixture, NULL, fixture_setup, test_inflight_lies, fixture_teardown);
  g_test_add ("/frontend-channel/inflight-truncated", Fixture, NULL, fixture_setup, test_inflight_truncated,
              fixture_teardown);
  g_test_add ("/frontend-channel/handler-answers-with-fd", Fixture, NULL, fixture_setup,
              test_handler_answers_with_fd, fixture_teardown);
  g_test_add ("/frontend-channel/log-base-without-shmfd", Fixture, NULL, fixture_setup,
              test_log_base_without_shmfd, fixture_teardown);
  g_test_add_func ("/frontend/listen", test_listen);
  g_test_add ("/frontend/typed", Fixture, NULL, fixture_setup, test_typed, fixture_teardown);
  g_test_add ("/frontend/typed-rare", Fixture, NULL, fixture_setup, test_typed_rare, fixture_teardown);
  g_test_add_func ("/frontend/listen-timeout", test_listen_timeout);
  g_test_add ("/frontend-channel/typed-rings", Fixture, NULL, fixture_setup, test_typed_rings, fixture_teardown);
  g_test_add ("/frontend-channel/shared-objects", Fixture, NULL, fixture_setup, test_shared_objects,
              fixture_teardown);
  g_test_add ("/frontend-channel/iotlb-access-fail", Fixture, NULL, fixture_setup, test_iotlb_access_fail,
              fixture_teardown);
  g_test_add ("/frontend-channel/shmem", Fixture, NULL, fixture_setup, test_shmem, fixture_teardown);
  g_test_add ("/frontend-channel/shared-objects-many", Fixture, NULL, fixture_setup, test_shared_objects_many,
              fixture_teardown);
  g_test_add ("/frontend-channel/shmem-many", Fixture, NULL, fixture_setup, test_shmem_many, fixture_teardown);
  g_test_add ("/frontend-channel/shmem-shrunk", Fixture, NULL, fixture_setup, test_shmem_shrunk, fixture_teardown);
  g_test_add ("/frontend-channel/too-many-fds", Fixture, NULL, fixture_setup, test_too_many_fds, fixture_teardown);
  g_test_add ("/frontend-channel/not-negotiated", Fixture, NULL, fixture_setup, test_not_negotiated,
              fixture_teardown);

  return g_test_run ();
}
