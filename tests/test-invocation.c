/* test-invocation.c: completing an invocation from several threads at once
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Run under TSan (the tsan build's "threads" suite) this is the race test
 * of the completed flag: exactly one return_* call wins, the loser gets
 * the documented critical and nothing else happens.
 */

#include <vhost-user-glib.h>

#include "test-util.h"
#include "vhost-user-invocation-private.h"
#include "vhost-user-message-private.h"

#define ROUNDS 200

typedef struct {
  VhostUserInvocation *invocation;
  gint                *go;
  guint64              value;
} Racer;

static gint n_twice;

/* with G_DEBUG=fatal-warnings (as meson runs us) the expected critical
 * must not abort */
static gboolean
allow_twice (const char     *log_domain,
             GLogLevelFlags  log_level,
             const char     *message,
             gpointer        user_data)
{
  return !(g_strcmp0 (log_domain, "VhostUser") == 0 && g_str_has_suffix (message, "completed twice"));
}

/* counts the expected criticals, and does not print 200 of them */
static void
count_twice (const char     *log_domain,
             GLogLevelFlags  log_level,
             const char     *message,
             gpointer        user_data)
{
  if (g_str_has_suffix (message, "completed twice"))
    g_atomic_int_inc (&n_twice);
  else
    g_log_default_handler (log_domain, log_level, message, user_data);
}

typedef struct {
  gint    n_done;
  guint64 replied;
} Done;

static void
on_done (VhostUserInvocation *invocation,
         VhostUserMessage    *reply,
         const GError        *error,
         gpointer             user_data)
{
  Done *done = user_data;
  guint64 value = 0;

  g_assert_no_error (error);
  g_assert_nonnull (reply);
  g_assert_true (vhost_user_message_get_u64 (reply, &value));
  done->replied = value;
  g_atomic_int_inc (&done->n_done);
}

static gpointer
race (gpointer data)
{
  Racer *racer = data;

  while (!g_atomic_int_get (racer->go))
    ;
  vhost_user_invocation_return_u64 (racer->invocation, racer->value);
  return NULL;
}

static void
test_two_threads_complete (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  guint handler;

  g_test_log_set_fatal_handler (allow_twice, NULL);
  handler = g_log_set_handler ("VhostUser", G_LOG_LEVEL_CRITICAL | G_LOG_FLAG_FATAL, count_twice, NULL);

  for (guint round = 0; round < ROUNDS; round++)
    {
      VhostUserMessage request = VHOST_USER_MESSAGE_INIT;
      VhostUserInvocation *invocation;
      Done done = { 0 };
      gint go = FALSE;
      Racer racers[2];
      GThread *threads[2];

      /* GET_FEATURES: always answered, with a u64 */
      vhost_user_message_init (&request, VHOST_USER_REQUEST_GET_FEATURES, 0);
      invocation = vhost_user_invocation_new (VHOST_USER_CHANNEL_MAIN, &request, 0, context, NULL,
                                              on_done, &done, NULL);
      for (guint i = 0; i < 2; i++)
        {
          racers[i] = (Racer) { invocation, &go, 100 + i };
          threads[i] = g_thread_new ("completer", race, &racers[i]);
        }
      g_atomic_int_set (&go, TRUE);
      for (guint i = 0; i < 2; i++)
        g_thread_join (threads[i]);

      /* the reply runs in the invocation's context: there, or in the
       * winner if it could take that context */
      while (g_main_context_iteration (context, FALSE))
        ;
      g_assert_true (vhost_user_invocation_get_completed (invocation));
      g_object_unref (invocation);
      while (g_main_context_iteration (context, FALSE))
        ;

      g_assert_cmpint (g_atomic_int_get (&done.n_done), ==, 1);
      g_assert_true (done.replied == 100 || done.replied == 101);
      g_assert_cmpint (g_atomic_int_get (&n_twice), ==, (gint) round + 1);
    }

  g_log_remove_handler ("VhostUser", handler);
  g_test_log_set_fatal_handler (NULL, NULL);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/invocation/two-threads-complete", test_two_threads_complete);

  return g_test_run ();
}
