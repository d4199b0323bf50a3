/* vhost-user-blk-handlers.c: a vhost-user-blk back-end with signal handlers only
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * No subclass: a plain VhostUserBackend per front-end, whose offer is set
 * when the server announces it and whose requests are watched or
 * answered by handlers. The config space is answered by a handler that
 * claims GET_CONFIG; everything else is the library's default.
 *
 *   vhost-user-blk-handlers --socket /tmp/blk.sock --capacity-mb 64
 */

#include <stdio.h>
#include <stdlib.h>
#include <glib-unix.h>
#include <vhost-user-glib.h>

#include "example-access.h"
#include "example-log.h"

#define VIRTIO_BLK_F_SEG_MAX  2
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH    9
#define VIRTIO_BLK_F_MQ       12
#define CONFIG_SIZE           128

static gint64 capacity_mb = 64;
static gint num_queues = 1;
static char *socket_path;
static gboolean once;
static GMainLoop *loop;
static guint8 config[CONFIG_SIZE];

static GOptionEntry entries[] = {
  { "socket", 's', 0, G_OPTION_ARG_FILENAME, &socket_path, "Socket to listen on", "PATH" },
  { "capacity-mb", 0, 0, G_OPTION_ARG_INT64, &capacity_mb, "Disk size in MiB (default 64)", "N" },
  { "num-queues", 'q', 0, G_OPTION_ARG_INT, &num_queues, "Number of queues (default 1)", "N" },
  { "once", 0, 0, G_OPTION_ARG_NONE, &once, "Exit when the first front-end disconnects", NULL },
  { NULL }
};

static void
put_le (gsize offset, guint64 value, gsize width)
{
  for (gsize i = 0; i < width; i++)
    config[offset + i] = (value >> (8 * i)) & 0xff;
}

static gboolean
on_get_config (VhostUserBackend    *backend,
               VhostUserInvocation *invocation,
               guint                offset,
               guint                size,
               guint                flags,
               gpointer             user_data)
{
  if (size == 0 || (guint64) offset + size > sizeof config)
    vhost_user_invocation_return_error_literal (invocation, VHOST_USER_ERROR,
                                                VHOST_USER_ERROR_INVALID_PARAM,
                                                "Config range out of bounds");
  else
    {
      g_autoptr(GBytes) bytes = g_bytes_new (config + offset, size);

      vhost_user_invocation_return_config (invocation, bytes);
    }
  g_print ("config: %u bytes at %u\n", size, offset);
  return TRUE;
}

static gboolean
on_set_features (VhostUserBackend    *backend,
                 VhostUserInvocation *invocation,
                 guint64              features,
                 gpointer             user_data)
{
  g_print ("negotiated: features 0x%" G_GINT64_MODIFIER "x\n", features);
  return FALSE;  /* the default records them */
}

static gboolean
on_set_vring_kick (VhostUserBackend    *backend,
                   VhostUserInvocation *invocation,
                   guint                index,
                   int                  fd,
                   gpointer             user_data)
{
  g_print ("queue %u: kick fd %s\n", index, fd >= 0 ? "set" : "none (polling)");
  return FALSE;
}

static void
on_disconnected (VhostUserBackend *backend,
                 const GError     *error,
                 gboolean          should_reconnect,
                 gpointer          user_data)
{
  g_print ("disconnected: %s\n", error->message);
  if (once)
    g_main_loop_quit (loop);
}

static void
on_backend_added (VhostUserServer  *server,
                  VhostUserBackend *backend,
                  gpointer          user_data)
{
  g_print ("connected: a front-end\n");
  /* first: the log line comes before the handlers below answer */
  example_log_every_request (backend);
  vhost_user_backend_set_features (backend, vhost_user_backend_get_features (backend) |
                                   VHOST_USER_FEATURE (VIRTIO_BLK_F_SEG_MAX) |
                                   VHOST_USER_FEATURE (VIRTIO_BLK_F_BLK_SIZE) |
                                   VHOST_USER_FEATURE (VIRTIO_BLK_F_FLUSH) |
                                   VHOST_USER_FEATURE (VIRTIO_BLK_F_MQ));
  vhost_user_backend_set_num_queues (backend, num_queues);
  g_signal_connect (backend, "get-config", G_CALLBACK (on_get_config), NULL);
  g_signal_connect (backend, "set-features", G_CALLBACK (on_set_features), NULL);
  g_signal_connect (backend, "set-vring-kick", G_CALLBACK (on_set_vring_kick), NULL);
  g_signal_connect (backend, "disconnected", G_CALLBACK (on_disconnected), NULL);
}

static gboolean
on_signal (gpointer user_data)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserServer) server = NULL;

  options = g_option_context_new ("- a vhost-user-blk back-end written with signal handlers");
  g_option_context_set_summary (options,
    "Serves a virtio-blk device over vhost-user without subclassing: handlers answer\n"
    "the config space and log what the front-end negotiates.");
  g_option_context_add_main_entries (options, entries, NULL);
  example_access_add_options (options);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return EXIT_FAILURE;
    }
  if (socket_path == NULL || capacity_mb <= 0 || num_queues < 1 || num_queues > 256)
    {
      g_printerr ("vhost-user-blk-handlers: --socket is required; capacity and queues (1-256) must make sense\n");
      return EXIT_FAILURE;
    }

  setvbuf (stdout, NULL, _IOLBF, 0);
  put_le (0, (guint64) capacity_mb * 1024 * 1024 / 512, 8);
  put_le (12, 126, 4);
  put_le (20, 512, 4);
  put_le (34, num_queues, 2);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_signal, NULL);
  g_unix_signal_add (SIGTERM, on_signal, NULL);

  server = vhost_user_server_new (VHOST_USER_TYPE_BACKEND, FALSE);
  g_signal_connect (server, "backend-added", G_CALLBACK (on_backend_added), NULL);
  if (!example_access_apply (server, &error) || !vhost_user_server_listen (server, socket_path, &error))
    {
      g_printerr ("vhost-user-blk-handlers: %s\n", error->message);
      return EXIT_FAILURE;
    }
  g_print ("listening: %s\n", socket_path);

  g_main_loop_run (loop);
  vhost_user_server_stop (server);
  g_main_loop_unref (loop);
  return EXIT_SUCCESS;
}
