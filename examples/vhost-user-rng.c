/* vhost-user-rng.c: a vhost-user-rng (virtio-rng, entropy) back-end
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   vhost-user-rng --socket /tmp/rng.sock
 *
 * The simplest device there is: one queue, no config space, no feature of
 * its own. The driver posts writable buffers; the device fills them from
 * getrandom() and hands them back. QEMU's -device vhost-user-rng-pci uses
 * it. The library's defaults answer every control request; all this file
 * does is the kick handler. examples/vhost-user-rng.py is the same device
 * in Python.
 */

#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <glib-unix.h>
#include <vhost-user-glib.h>

#include "example-access.h"

static char *socket_path;
static gboolean once;
static GMainLoop *loop;

static GOptionEntry entries[] = {
  { "socket", 's', 0, G_OPTION_ARG_FILENAME, &socket_path, "Socket to listen on", "PATH" },
  { "once", 0, 0, G_OPTION_ARG_NONE, &once, "Exit when the first front-end disconnects", NULL },
  { NULL }
};

static void
on_kick (VhostUserVring *vring,
         gpointer        user_data)
{
  VhostUserVringElement element;
  g_autoptr(GError) error = NULL;
  gsize served = 0;

  while (vhost_user_vring_pop (vring, &element, &error))
    {
      gsize written = 0;

      /* straight into guest memory, piece by piece */
      for (guint i = 0; i < element.n_in; i++)
        {
          ssize_t got = getrandom (element.in[i].base, element.in[i].len, 0);

          if (got < 0)
            break;
          written += got;
          if ((gsize) got < element.in[i].len)
            break;
        }
      if (!vhost_user_vring_push (vring, element.head, written, &error))
        break;
      served += written;
    }
  if (error != NULL)
    g_printerr ("rng: queue %u: %s\n", vhost_user_vring_get_index (vring), error->message);
  if (served > 0)
    {
      vhost_user_vring_call (vring, NULL);
      g_print ("rng: %" G_GSIZE_FORMAT " bytes\n", served);
    }
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
  vhost_user_backend_set_num_queues (backend, 1);
  vhost_user_vring_set_kick_handler (vhost_user_backend_get_vring (backend, 0), on_kick, NULL, NULL);
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

  options = g_option_context_new ("- a vhost-user-rng back-end");
  g_option_context_set_summary (options,
    "Serves a virtio-rng (entropy) device over vhost-user: QEMU's -device\n"
    "vhost-user-rng-pci realizes it and the guest's /dev/hwrng reads from it.");
  g_option_context_add_main_entries (options, entries, NULL);
  example_access_add_options (options);
  if (!g_option_context_parse (options, &argc, &argv, &error) || socket_path == NULL)
    {
      g_printerr ("%s\n", error != NULL ? error->message : "vhost-user-rng: --socket is required");
      return EXIT_FAILURE;
    }

  setvbuf (stdout, NULL, _IOLBF, 0);
  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_signal, NULL);
  g_unix_signal_add (SIGTERM, on_signal, NULL);

  server = vhost_user_server_new (VHOST_USER_TYPE_BACKEND, FALSE);
  g_signal_connect (server, "backend-added", G_CALLBACK (on_backend_added), NULL);
  if (!example_access_apply (server, &error) || !vhost_user_server_listen (server, socket_path, &error))
    {
      g_printerr ("vhost-user-rng: %s\n", error->message);
      return EXIT_FAILURE;
    }
  g_print ("listening: %s\n", socket_path);
  g_main_loop_run (loop);
  vhost_user_server_stop (server);
  g_main_loop_unref (loop);
  return EXIT_SUCCESS;
}
