/* example-log.c: every request a back-end gets, by name
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <stdio.h>

#include "example-log.h"

/* A closure that reads only the signal it was invoked for and lets the
 * emission go on, whatever the signal's signature. (An emission hook
 * would not do: a request nobody connected to goes to its vfunc without
 * an emission.) */
static void
log_request_marshal (GClosure     *closure,
                     GValue       *return_value,
                     guint         n_param_values,
                     const GValue *param_values,
                     gpointer      invocation_hint,
                     gpointer      marshal_data)
{
  GSignalInvocationHint *hint = invocation_hint;

  g_print ("request: %s\n", g_signal_name (hint->signal_id));
  if (return_value != NULL)
    g_value_set_boolean (return_value, FALSE);
}

/* Prints "request: NAME" for each request @backend gets, before its
 * handlers connected later run. */
void
example_log_every_request (VhostUserBackend *backend)
{
  g_autofree guint *ids = NULL;
  guint n_ids;

  ids = g_signal_list_ids (VHOST_USER_TYPE_BACKEND, &n_ids);
  for (guint i = 0; i < n_ids; i++)
    {
      GSignalQuery query;
      GClosure *closure;

      g_signal_query (ids[i], &query);
      if (query.return_type != G_TYPE_BOOLEAN)
        continue;
      closure = g_closure_new_simple (sizeof (GClosure), NULL);
      g_closure_set_marshal (closure, log_request_marshal);
      g_signal_connect_closure_by_id (backend, ids[i], 0, closure, FALSE);
    }
}
