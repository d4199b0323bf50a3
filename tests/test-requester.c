/* test-requester.c: the requester both roles send with, against a bare peer
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <gio/gio.h>
#include <vhost-user-glib.h>

#include "test-util.h"
#include "vhost-user-connection-private.h"
#include "vhost-user-requester-private.h"
#include "vhost-user-socket-private.h"

#define WAIT_MS 5000
#define GET_FEATURES ((guint32) VHOST_USER_REQUEST_GET_FEATURES)

typedef struct {
  GMainContext        *context;       /* the role's */
  GMainContext        *peer_context;  /* the peer's, iterated by hand */
  GObject             *owner;
  VhostUserRequester  *requester;
  VhostUserConnection *connection;
  VhostUserConnection *peer;
  guint                requests_seen;
} Fixture;

typedef struct {
  gboolean  done;
  guint64   value;
  GError   *error;
  Fixture  *f;
} Call;

static void
on_message (VhostUserConnection *connection,
            VhostUserMessage    *msg,
            const GError        *error,
            gpointer             user_data)
{
  Fixture *f = user_data;

  vhost_user_requester_handle_reply (f->requester, msg, error);
}

/* as a role does: the connection's end fails what waits */
static void
on_closed (VhostUserConnection *connection,
           const GError        *error,
           gpointer             user_data)
{
  Fixture *f = user_data;
  g_autoptr(GError) reason = error != NULL ? g_error_copy (error)
                                           : g_error_new_literal (VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN,
                                                                  "closed");

  vhost_user_requester_set_connection (f->requester, NULL);
  vhost_user_requester_fail_all (f->requester, reason);
}

static void
on_peer_message (VhostUserConnection *connection,
                 VhostUserMessage    *msg,
                 const GError        *error,
                 gpointer             user_data)
{
  Fixture *f = user_data;

  g_assert_no_error (error);
  g_assert_cmpuint (msg->header.request, ==, GET_FEATURES);
  f->requests_seen++;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GSocket) ours = NULL;
  g_autoptr(GSocket) theirs = NULL;
  g_autoptr(GError) error = NULL;

  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  f->peer_context = g_main_context_new ();
  f->owner = g_object_new (G_TYPE_OBJECT, NULL);
  g_assert_true (vhost_user_socket_pair (&ours, &theirs, &error));

  f->requester = vhost_user_requester_new (VHOST_USER_CHANNEL_MAIN, f->owner, f->context);
  f->connection = vhost_user_connection_new (ours, VHOST_USER_CHANNEL_MAIN, TRUE, f->context);
  vhost_user_connection_set_handlers (f->connection, on_message, on_closed, f);
  vhost_user_requester_set_connection (f->requester, f->connection);
  vhost_user_connection_start (f->connection);

  f->peer = vhost_user_connection_new (theirs, VHOST_USER_CHANNEL_MAIN, FALSE, f->peer_context);
  vhost_user_connection_set_handlers (f->peer, on_peer_message, NULL, f);
  vhost_user_connection_start (f->peer);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  vhost_user_connection_close (f->peer, NULL);
  g_clear_object (&f->peer);
  vhost_user_connection_set_handlers (f->connection, NULL, NULL, NULL);
  vhost_user_connection_close (f->connection, NULL);
  g_clear_object (&f->connection);
  g_clear_object (&f->requester);
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_clear_object (&f->owner);
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
  g_main_context_unref (f->peer_context);
}

static void
peer_reply (Fixture *f,
            guint32  request,
            guint64  value)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;
  g_autoptr(GError) error = NULL;

  vhost_user_message_init (&msg, request, VHOST_USER_FLAG_REPLY);
  vhost_user_message_set_u64 (&msg, value);
  g_assert_true (vhost_user_connection_send (f->peer, &msg, &error));
  g_assert_no_error (error);
}

static void
peer_read (Fixture *f,
           guint    n)
{
  gint64 end = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (f->requests_seen < n && g_get_monotonic_time () < end)
    g_main_context_iteration (f->peer_context, TRUE);
  g_assert_cmpuint (f->requests_seen, ==, n);
}

static void
call_done (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Call *call = user_data;
  g_autoptr(GBytes) reply = NULL;

  g_assert_true (source == call->f->owner);
  reply = vhost_user_requester_send_finish (call->f->requester, result, NULL, NULL, &call->error);
  if (reply != NULL)
    {
      g_assert_cmpuint (g_bytes_get_size (reply), ==, 8);
      call->value = *(const guint64 *) g_bytes_get_data (reply, NULL);
    }
  call->done = TRUE;
}

static void
send_get_features (Fixture      *f,
                   Call         *call,
                   GCancellable *cancellable)
{
  call->f = f;
  vhost_user_requester_send_async (f->requester, GET_FEATURES, NULL, NULL, cancellable, send_get_features,
                                   call_done, call);
}

static void
wait_call (Fixture *f,
           Call    *call)
{
  g_assert_true (test_iterate_until (f->context, &call->done, WAIT_MS));
}

/* Replies come in request order and each goes to its own request. */
static void
test_order (Fixture       *f,
            gconstpointer  data)
{
  Call calls[3] = { { 0 } };

  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    send_get_features (f, &calls[i], NULL);
  g_assert_cmpuint (vhost_user_requester_get_n_pending (f->requester), ==, 3);
  peer_read (f, 3);
  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    peer_reply (f, GET_FEATURES, 100 + i);
  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    {
      wait_call (f, &calls[i]);
      g_assert_no_error (calls[i].error);
      g_assert_cmpuint (calls[i].value, ==, 100 + i);
    }
  g_assert_cmpuint (vhost_user_requester_get_n_pending (f->requester), ==, 0);

  /* a reply to something else is out of step: the connection goes */
  send_get_features (f, &calls[0], NULL);
  calls[0].done = FALSE;
  peer_reply (f, VHOST_USER_REQUEST_GET_QUEUE_NUM, 1);
  wait_call (f, &calls[0]);
  g_assert_error (calls[0].error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_MESSAGE);
  g_assert_true (vhost_user_connection_is_closed (f->connection));
  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    g_clear_error (&calls[i].error);
}

/* No reply in time: TIMED_OUT, worth a reconnection, and the connection
 * is closed since later replies could not be matched. */
static void
test_timeout (Fixture       *f,
              gconstpointer  data)
{
  Call first = { 0 }, second = { 0 };
  gint64 start = g_get_monotonic_time ();

  vhost_user_requester_set_timeout (f->requester, 100);
  g_assert_cmpuint (vhost_user_requester_get_timeout (f->requester), ==, 100);
  send_get_features (f, &first, NULL);
  send_get_features (f, &second, NULL);
  wait_call (f, &first);
  wait_call (f, &second);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * G_TIME_SPAN_MILLISECOND);
  g_assert_error (first.error, VHOST_USER_ERROR, VHOST_USER_ERROR_TIMED_OUT);
  /* (the timer came before the deadline, and found no request late:
   * "No reply to (null)") */
  g_assert_cmpstr (first.error->message, ==, "No reply to GET_FEATURES within 100 ms");
  g_assert_true (vhost_user_error_should_reconnect (first.error));
  g_assert_error (second.error, VHOST_USER_ERROR, VHOST_USER_ERROR_TIMED_OUT);
  g_assert_true (vhost_user_connection_is_closed (f->connection));
  g_clear_error (&first.error);
  g_clear_error (&second.error);
}

static gpointer
cancel_in_thread (gpointer data)
{
  g_cancellable_cancel (data);
  return NULL;
}

/* A cancellable cancelled in another thread fails the request in the
 * role's context; the reply, when it comes, is read and dropped. */
static void
test_cancel_from_thread (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Call cancelled = { 0 }, after = { 0 };

  send_get_features (f, &cancelled, cancellable);
  g_thread_join (g_thread_new ("canceller", cancel_in_thread, cancellable));
  /* nothing happens in the cancelling thread */
  g_assert_false (cancelled.done);
  wait_call (f, &cancelled);
  g_assert_error (cancelled.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&cancelled.error);
  g_assert_cmpuint (vhost_user_requester_get_n_pending (f->requester), ==, 1);

  send_get_features (f, &after, NULL);
  peer_read (f, 2);
  peer_reply (f, GET_FEATURES, 1);
  peer_reply (f, GET_FEATURES, 2);
  wait_call (f, &after);
  g_assert_no_error (after.error);
  g_assert_cmpuint (after.value, ==, 2);
  g_assert_false (vhost_user_connection_is_closed (f->connection));
}

/* The connection's end fails every request waiting, with its reason. */
static void
test_close_fails_pending (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) reason = g_error_new_literal (VHOST_USER_ERROR, VHOST_USER_ERROR_CLOSED, "closed here");
  Call calls[2] = { { 0 } };
  Call late = { 0 };

  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    send_get_features (f, &calls[i], NULL);
  vhost_user_connection_close (f->connection, reason);
  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    {
      wait_call (f, &calls[i]);
      g_assert_error (calls[i].error, VHOST_USER_ERROR, VHOST_USER_ERROR_CLOSED);
      g_clear_error (&calls[i].error);
    }
  g_assert_cmpuint (vhost_user_requester_get_n_pending (f->requester), ==, 0);

  /* and nothing more goes out */
  send_get_features (f, &late, NULL);
  wait_call (f, &late);
  g_assert_error (late.error, VHOST_USER_ERROR, VHOST_USER_ERROR_SOCKET_BROKEN);
  g_clear_error (&late.error);
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
start_get_features (gpointer             data,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  Fixture *f = data;

  vhost_user_requester_send_async (f->requester, GET_FEATURES, NULL, NULL, NULL, start_get_features,
                                   callback, user_data);
}

/* An isolated blocking wait runs only what it needs: an idle of the
 * role's context waits until it returns; so does an earlier request's
 * callback. */
static void
test_isolated_wait (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  gboolean idle_ran = FALSE;
  Call earlier = { 0 };
  GSource *idle;

  send_get_features (f, &earlier, NULL);
  idle = g_idle_source_new ();
  g_source_set_callback (idle, set_flag, &idle_ran, NULL);
  g_source_attach (idle, f->context);
  g_source_unref (idle);

  /* the peer answers both before the wait starts: nothing else needs to run */
  peer_reply (f, GET_FEATURES, 1);
  peer_reply (f, GET_FEATURES, 2);
  result = vhost_user_requester_wait (f->requester, start_get_features, f, TRUE, &error);
  g_assert_no_error (error);
  g_assert_nonnull (result);
  reply = vhost_user_requester_send_finish (f->requester, result, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (*(const guint64 *) g_bytes_get_data (reply, NULL), ==, 2);
  g_assert_false (idle_ran);
  g_assert_false (earlier.done);

  /* back in the role's context: both run */
  wait_call (f, &earlier);
  g_assert_cmpuint (earlier.value, ==, 1);
  g_assert_true (test_iterate_until (f->context, &idle_ran, WAIT_MS));

  /* the watch is back where it was: async requests work again */
  earlier.done = FALSE;
  send_get_features (f, &earlier, NULL);
  peer_reply (f, GET_FEATURES, 3);
  wait_call (f, &earlier);
  g_assert_cmpuint (earlier.value, ==, 3);
}

/* A wait from a thread that cannot own the role's context is refused. */
static gpointer
wait_in_thread (gpointer data)
{
  Fixture *f = data;
  GError *error = NULL;

  g_assert_null (vhost_user_requester_wait (f->requester, start_get_features, f, TRUE, &error));
  return error;
}

static void
test_wait_wrong_thread (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_main_context_acquire (f->context));
  error = g_thread_join (g_thread_new ("other", wait_in_thread, f));
  g_main_context_release (f->context);
  g_assert_error (error, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_OPERATION);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/requester/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("order", test_order);
  ADD ("timeout", test_timeout);
  ADD ("cancel-from-thread", test_cancel_from_thread);
  ADD ("close-fails-pending", test_close_fails_pending);
  ADD ("isolated-wait", test_isolated_wait);
  ADD ("wait-wrong-thread", test_wait_wrong_thread);
#undef ADD

  return g_test_run ();
}
