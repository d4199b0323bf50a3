/* vhost-user-demo.c: a front-end and a back-end talking over a real socket
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Both ends live in one process and one main loop, joined by a listening
 * UNIX socket as QEMU and a device would be: a VhostUserServer serves a
 * plain VhostUserBackend, a VhostUserFrontend connects to it. The
 * front-end negotiates, shares a memfd of "guest memory" with a string in
 * it and hands over a call eventfd; the back-end finds the string in the
 * memory it mapped and signals the eventfd. Every message is traced,
 * decoded (VHOST_USER_DEBUG=trace).
 */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <vhost-user-glib.h>

#include "example-access.h"

#define GUEST_PHYS_BASE  0x100000
#define GUEST_SIZE       (1024 * 1024)
#define GREETING_OFFSET  0x2000
#define GREETING         "hello from guest memory"

/* the back-end's side: watch what the front-end sets up */

static void
on_memory_table (VhostUserBackend *backend,
                 GParamSpec       *pspec,
                 gpointer          user_data)
{
  VhostUserMemoryTable *table = vhost_user_backend_get_memory_table (backend);
  g_autoptr(GBytes) bytes = NULL;

  if (vhost_user_memory_table_get_n_regions (table) == 0)
    return;
  bytes = vhost_user_memory_table_read_gpa (table, GUEST_PHYS_BASE + GREETING_OFFSET, sizeof GREETING, NULL);
  g_print ("back-end:  mapped %" G_GUINT64_FORMAT " KiB of guest memory; at 0x%x it reads \"%s\"\n",
           vhost_user_memory_table_get_total_size (table) / 1024, GUEST_PHYS_BASE + GREETING_OFFSET,
           bytes != NULL ? (const char *) g_bytes_get_data (bytes, NULL) : "(nothing)");
}

static void
on_call_fd (VhostUserVring *vring,
            GParamSpec     *pspec,
            gpointer        user_data)
{
  g_autoptr(GError) error = NULL;

  if (vhost_user_vring_get_call_fd (vring) < 0)
    return;
  g_print ("back-end:  got queue %u's call eventfd; signalling it\n", vhost_user_vring_get_index (vring));
  if (!vhost_user_vring_call (vring, &error))
    g_printerr ("vhost-user-demo: %s\n", error->message);
}

static void
on_backend_added (VhostUserServer  *server,
                  VhostUserBackend *backend,
                  gpointer          user_data)
{
  g_print ("back-end:  a front-end connected\n");
  g_signal_connect (backend, "notify::memory-table", G_CALLBACK (on_memory_table), NULL);
  g_signal_connect (vhost_user_backend_get_vring (backend, 0), "notify::call-fd", G_CALLBACK (on_call_fd), NULL);
}

/* the front-end's side: a short session */

static char *
describe_protocol (guint64 features)
{
  g_autoptr(GFlagsClass) klass = g_type_class_ref (VHOST_USER_TYPE_PROTOCOL_FEATURES);
  GString *names = g_string_new (NULL);

  for (guint i = 0; i < klass->n_values; i++)
    if (klass->values[i].value != 0 && (features & klass->values[i].value))
      g_string_append_printf (names, " %s", klass->values[i].value_nick);
  return g_string_free (names, FALSE);
}

static gboolean
run_frontend (const char  *path,
              GError     **error)
{
  g_autoptr(VhostUserFrontend) frontend = vhost_user_frontend_new ();
  g_autoptr(VhostUserMemoryRegion) region = NULL;
  g_autofree char *names = NULL;
  guint64 count = 0;
  int call;

  if (!vhost_user_frontend_connect_to_path (frontend, path, 1000, NULL, error))
    return FALSE;
  g_print ("front-end: connected to %s\n", path);

  if (!vhost_user_frontend_negotiate (frontend, VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1),
                                      VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK |
                                      VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS,
                                      NULL, error))
    return FALSE;
  names = describe_protocol (vhost_user_frontend_get_acked_protocol_features (frontend));
  g_print ("front-end: negotiated features 0x%" G_GINT64_MODIFIER "x, protocol features:%s\n",
           vhost_user_frontend_get_acked_features (frontend), names);

  /* guest memory with something in it for the back-end to find */
  region = vhost_user_memory_region_new_memfd (GUEST_PHYS_BASE, GUEST_SIZE, error);
  if (region == NULL)
    return FALSE;
  memcpy ((char *) vhost_user_memory_region_get_host_addr (region) + GREETING_OFFSET, GREETING, sizeof GREETING);
  if (!vhost_user_frontend_add_mem_region (frontend, region, NULL, error))
    return FALSE;
  g_print ("front-end: shared 1 MiB of guest memory (ADD_MEM_REG, acknowledged)\n");

  /* non-blocking, waited for with a bound: a back-end owes no call */
  call = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (!vhost_user_frontend_set_vring_fd (frontend, VHOST_USER_REQUEST_SET_VRING_CALL, 0, call, NULL, error))
    {
      close (call);
      return FALSE;
    }
  /* the back-end signalled it while handling the request */
  if (poll (&(struct pollfd) { call, POLLIN, 0 }, 1, 1000) == 1 &&
      read (call, &count, sizeof count) == sizeof count)
    g_print ("front-end: the back-end's call arrived through the eventfd (count %" G_GUINT64_FORMAT ")\n", count);
  close (call);

  vhost_user_frontend_close (frontend);
  return count == 1;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserServer) server = NULL;
  g_autofree char *socket_path = NULL;
  g_autofree char *tmpdir = NULL;
  gboolean quiet = FALSE;
  gboolean ok;
  GOptionEntry entries[] = {
    { "socket", 's', 0, G_OPTION_ARG_FILENAME, &socket_path, "Where to listen (default: a new temporary directory)", "PATH" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Do not trace every message", NULL },
    { NULL }
  };

  options = g_option_context_new ("- a vhost-user front-end and back-end over a socket");
  g_option_context_set_summary (options,
    "Runs both ends of a vhost-user connection in one process: the front-end negotiates\n"
    "features, shares a memfd of guest memory and a call eventfd; the back-end finds a\n"
    "string in the memory and signals the eventfd. Messages are traced (VHOST_USER_DEBUG=trace).");
  g_option_context_add_main_entries (options, entries, NULL);
  example_access_add_options (options);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return EXIT_FAILURE;
    }
  setvbuf (stdout, NULL, _IOLBF, 0);
  if (!quiet && g_getenv ("VHOST_USER_DEBUG") == NULL)
    g_setenv ("VHOST_USER_DEBUG", "trace", TRUE);

  if (socket_path == NULL)
    {
      tmpdir = g_dir_make_tmp ("vhost-user-demo-XXXXXX", &error);
      if (tmpdir == NULL)
        {
          g_printerr ("%s\n", error->message);
          return EXIT_FAILURE;
        }
      socket_path = g_build_filename (tmpdir, "demo.sock", NULL);
    }

  /* the back-end side runs in this thread's default context, which the
   * front-end's blocking calls run while they wait */
  server = vhost_user_server_new (VHOST_USER_TYPE_BACKEND, FALSE);
  g_signal_connect (server, "backend-added", G_CALLBACK (on_backend_added), NULL);
  /* the front-end is this process: --allow-uid without our own uid shows
   * what a refused front-end sees */
  if (!example_access_apply (server, &error) || !vhost_user_server_listen (server, socket_path, &error))
    {
      g_printerr ("vhost-user-demo: %s\n", error->message);
      if (tmpdir != NULL)
        g_rmdir (tmpdir);
      return EXIT_FAILURE;
    }
  g_print ("back-end:  listening on %s\n", socket_path);

  ok = run_frontend (socket_path, &error);
  vhost_user_server_stop (server);
  if (tmpdir != NULL)
    g_rmdir (tmpdir);

  if (!ok)
    {
      g_printerr ("vhost-user-demo: %s\n", error != NULL ? error->message : "the call did not arrive");
      return EXIT_FAILURE;
    }
  g_print ("done: both ends agreed, memory and an eventfd crossed the socket\n");
  return EXIT_SUCCESS;
}
