/* example-access.c: who may connect to an example's socket
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The flags every example that listens takes, --socket-mode,
 * --socket-group, --allow-uid and --allow-gid, and their translation
 * into VhostUserServer's socket-mode, socket-group, allowed-uids and
 * allowed-gids. One copy, so that the examples cannot drift apart in
 * what a flag means.
 */

#include <grp.h>
#include <pwd.h>

#include "example-access.h"

static char *socket_mode;
static char *socket_group;
static char **allow_uids;
static char **allow_gids;

static GOptionEntry entries[] = {
  { "socket-mode", 0, 0, G_OPTION_ARG_STRING, &socket_mode, "The socket file's permissions (default 0600)", "OCTAL" },
  { "socket-group", 0, 0, G_OPTION_ARG_STRING, &socket_group, "The socket file's group", "GROUP" },
  { "allow-uid", 0, 0, G_OPTION_ARG_STRING_ARRAY, &allow_uids,
    "Serve only front-ends running as this user (repeatable; with --allow-gid, either may match)", "USER" },
  { "allow-gid", 0, 0, G_OPTION_ARG_STRING_ARRAY, &allow_gids,
    "Serve only front-ends running with this group as their effective one (repeatable)", "GROUP" },
  { NULL }
};

/**
 * example_access_add_options:
 * @options: the program's option context
 *
 * Adds the four flags to the main group, where `--help` shows them with
 * the program's own (a group of their own would hide them behind
 * `--help-all`).
 */
void
example_access_add_options (GOptionContext *options)
{
  g_option_context_add_main_entries (options, entries, NULL);
}

/* A user or group, by name or number. */
static gboolean
parse_id (const char *text,
          gboolean    group,
          guint32    *id)
{
  guint64 n;

  /* (guint32) -1 is "no change" to chown(): never an id to match */
  if (g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT32 - 1, &n, NULL))
    {
      *id = n;
      return TRUE;
    }
  if (group)
    {
      struct group *gr = getgrnam (text);

      if (gr != NULL)
        *id = gr->gr_gid;
      return gr != NULL;
    }
  else
    {
      struct passwd *pw = getpwnam (text);

      if (pw != NULL)
        *id = pw->pw_uid;
      return pw != NULL;
    }
}

/* The --allow-uid or --allow-gid list as an "au" variant, NULL if none
 * was given (anyone, as far as this list goes). */
static gboolean
parse_ids (char     **texts,
           gboolean   group,
           GVariant **ids,
           GError   **error)
{
  g_autoptr(GArray) array = g_array_new (FALSE, FALSE, sizeof (guint32));

  *ids = NULL;
  for (guint i = 0; texts != NULL && texts[i] != NULL; i++)
    {
      guint32 id;

      if (!parse_id (texts[i], group, &id))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "no %s “%s”", group ? "group" : "user",
                       texts[i]);
          return FALSE;
        }
      g_array_append_val (array, id);
    }
  if (array->len > 0)
    *ids = g_variant_ref_sink (g_variant_new_fixed_array (G_VARIANT_TYPE_UINT32, array->data, array->len,
                                                          sizeof (guint32)));
  return TRUE;
}

/**
 * example_access_apply:
 * @server: the server, before it listens (the mode and group are given
 *   to the socket file when it is made)
 * @error: a #GError
 *
 * Gives @server what the flags asked for. Without them it keeps the
 * server's defaults: a socket file of mode 0600 in the process's group,
 * and anyone who can open it served.
 *
 * Returns: %FALSE, with @error set, if a value makes no sense: a mode
 *   that is not octal permissions, a user or group that does not exist
 */
gboolean
example_access_apply (VhostUserServer  *server,
                      GError          **error)
{
  g_autoptr(GVariant) uids = NULL;
  g_autoptr(GVariant) gids = NULL;

  if (socket_mode != NULL)
    {
      guint64 mode;

      if (!g_ascii_string_to_unsigned (socket_mode, 8, 0, 0777, &mode, NULL))
        {
          g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                               "--socket-mode wants octal permissions, like 0660");
          return FALSE;
        }
      g_object_set (server, "socket-mode", (guint) mode, NULL);
    }
  if (socket_group != NULL)
    {
      guint32 gid;

      if (!parse_id (socket_group, TRUE, &gid))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "no group “%s”", socket_group);
          return FALSE;
        }
      g_object_set (server, "socket-group", (gint64) gid, NULL);
    }
  if (!parse_ids (allow_uids, FALSE, &uids, error) || !parse_ids (allow_gids, TRUE, &gids, error))
    return FALSE;
  vhost_user_server_set_allowed_uids (server, uids);
  vhost_user_server_set_allowed_gids (server, gids);
  return TRUE;
}
