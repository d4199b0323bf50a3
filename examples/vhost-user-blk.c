/* vhost-user-blk.c: a vhost-user-blk back-end QEMU can use
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   vhost-user-blk --socket /tmp/blk.sock --capacity-mb 64
 *   qemu-system-x86_64 -object memory-backend-memfd,id=mem,size=256M,share=on \
 *       -machine memory-backend=mem -chardev socket,id=c0,path=/tmp/blk.sock \
 *       -device vhost-user-blk-pci,chardev=c0 ...
 *
 * The device is ExampleBlkDevice (blk-device.c), a subclass of
 * VhostUserBackend; this program serves it on a socket (or connects to a
 * front-end that listens, with --connect) and logs what is negotiated.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <glib-unix.h>

#include "blk-device.h"
#include "example-access.h"
#include "example-log.h"

static gint64 capacity_mb = 64;
static gint block_size = 512;
static gint num_queues = 1;
static gint latency_ms;
static gint jitter_ms;
static gboolean queue_threads;
static char *socket_path;
static gboolean connect_mode;
static gboolean threaded;
static gint max_threads = -1;
static gboolean quiet;
static gboolean verbose;
static gboolean once;
static gboolean postcopy;
static gint poll_us;
/* as qemu-storage-daemon, which polls before it sleeps: a device setup
 * is a burst of requests, each answered before the next is sent, and
 * each would otherwise cost a wake-up (dear on a virtual machine) */
static gint control_poll_us = 50;
static char *image;
/* opened once: each connection's device gets a duplicate (a path lookup
 * per connection was a tenth of a connection's cost) */
static int image_fd = -1;
static gboolean read_only;

static GOptionEntry entries[] = {
  { "socket", 's', 0, G_OPTION_ARG_FILENAME, &socket_path, "Socket to listen on (or connect to, with --connect)", "PATH" },
  { "connect", 'c', 0, G_OPTION_ARG_NONE, &connect_mode, "Connect to a front-end that listens (QEMU's server=on)", NULL },
  { "image", 'i', 0, G_OPTION_ARG_FILENAME, &image, "Serve this raw image file instead of a RAM disk", "FILE" },
  { "read-only", 'r', 0, G_OPTION_ARG_NONE, &read_only, "Offer the image read-only (VIRTIO_BLK_F_RO)", NULL },
  { "capacity-mb", 0, 0, G_OPTION_ARG_INT64, &capacity_mb, "RAM disk size in MiB (default 64)", "N" },
  { "block-size", 0, 0, G_OPTION_ARG_INT, &block_size, "Logical block size (default 512)", "BYTES" },
  { "queues", 'q', 0, G_OPTION_ARG_INT, &num_queues, "Number of queues (default 1, at most 256)", "N" },
  { "num-queues", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &num_queues, "Same as --queues", "N" },
  { "queue-threads", 'T', 0, G_OPTION_ARG_NONE, &queue_threads,
    "Serve each queue in a thread of its own (the control plane stays in the connection's)", NULL },
  { "latency", 'l', 0, G_OPTION_ARG_INT, &latency_ms,
    "Complete each request this long after taking it off the ring, as a slow disk would (default 0)", "MS" },
  { "latency-jitter", 0, 0, G_OPTION_ARG_INT, &jitter_ms,
    "Vary each request's latency by up to this much either way, so requests complete out of order "
    "(default 0, at most the latency)", "MS" },
  { "threaded", 't', 0, G_OPTION_ARG_NONE, &threaded, "Serve each front-end in its own thread", NULL },
  { "max-threads", 0, 0, G_OPTION_ARG_INT, &max_threads,
    "With --threaded, serve at most N front-ends at once, the others waiting to be accepted "
    "(default 10; 0: no limit)", "N" },
  { "quiet", 'Q', 0, G_OPTION_ARG_NONE, &quiet, "Say nothing per front-end (errors still go to stderr)", NULL },
  { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log every request the front-ends send", NULL },
  { "once", 0, 0, G_OPTION_ARG_NONE, &once, "Exit when the first front-end disconnects", NULL },
  { "poll-us", 0, 0, G_OPTION_ARG_INT, &poll_us,
    "After a kick, busy-poll each ring this long for more before sleeping (kicks off meanwhile; "
    "best with --queue-threads)", "N" },
  { "control-poll-us", 0, 0, G_OPTION_ARG_INT, &control_poll_us,
    "After a request, poll the socket this long for the next one before sleeping "
    "(a device setup costs no wake-up per request; at most N us of CPU after the last; "
    "default 50, 0 sleeps at once)", "N" },
  { "postcopy", 0, 0, G_OPTION_ARG_NONE, &postcopy,
    "Offer postcopy migration instead of memory slots (the spec forbids both at once; the front-end is then trusted with this process's memory)", NULL },
  { NULL }
};

static GMainLoop *loop;

static void
on_acked_features (VhostUserBackend *backend,
                   GParamSpec       *pspec,
                   gpointer          user_data)
{
  g_print ("negotiated: features 0x%" G_GINT64_MODIFIER "x\n", vhost_user_backend_get_acked_features (backend));
}

static void
on_acked_protocol_features (VhostUserBackend *backend,
                            GParamSpec       *pspec,
                            gpointer          user_data)
{
  g_autoptr(GFlagsClass) klass = g_type_class_ref (VHOST_USER_TYPE_PROTOCOL_FEATURES);
  guint64 acked = vhost_user_backend_get_acked_protocol_features (backend);
  g_autoptr(GString) names = g_string_new (NULL);

  /* reset to nothing when the front-end goes: that is said elsewhere */
  if (acked == 0)
    return;
  for (guint i = 0; i < klass->n_values; i++)
    if (klass->values[i].value != 0 && (acked & klass->values[i].value))
      g_string_append_printf (names, " %s", klass->values[i].value_nick);
  g_print ("negotiated: protocol features 0x%" G_GINT64_MODIFIER "x:%s\n", acked, names->str);
}

static void
on_memory_table (VhostUserBackend *backend,
                 GParamSpec       *pspec,
                 gpointer          user_data)
{
  VhostUserMemoryTable *table = vhost_user_backend_get_memory_table (backend);

  g_print ("memory: %u regions, %" G_GUINT64_FORMAT " MiB\n",
           vhost_user_memory_table_get_n_regions (table),
           vhost_user_memory_table_get_total_size (table) / (1024 * 1024));
}

static void
on_disconnected (VhostUserBackend *backend,
                 const GError     *error,
                 gboolean          should_reconnect,
                 gpointer          user_data)
{
  if (!quiet)
    g_print ("disconnected: %s%s\n", error->message, should_reconnect ? " (reconnect)" : "");
  if (once || connect_mode)
    g_main_loop_quit (loop);
}

/* FALSE if the back-end is to serve nobody (it was closed: a server
 * turns the front-end away). */
static gboolean
setup_backend (VhostUserBackend *backend)
{
  g_autoptr(GError) error = NULL;

  example_blk_device_set_geometry (EXAMPLE_BLK_DEVICE (backend), (guint64) capacity_mb * 1024 * 1024,
                                   block_size, num_queues);
  /* failing now means no fd is left for the duplicate; serving a RAM
   * disk instead would lose the guest's writes: refuse */
  if (image != NULL &&
      !example_blk_device_take_image_fd (EXAMPLE_BLK_DEVICE (backend), fcntl (image_fd, F_DUPFD_CLOEXEC, 0),
                                         image, read_only, &error))
    {
      g_printerr ("vhost-user-blk: %s (refusing this front-end)\n", error->message);
      vhost_user_backend_close (backend);
      return FALSE;
    }
  example_blk_device_set_latency (EXAMPLE_BLK_DEVICE (backend), latency_ms, jitter_ms);
  example_blk_device_set_quiet (EXAMPLE_BLK_DEVICE (backend), quiet);
  example_blk_device_set_poll (EXAMPLE_BLK_DEVICE (backend), MAX (poll_us, 0));
  vhost_user_backend_set_poll_window (backend, CLAMP (control_poll_us, 0, (gint) G_USEC_PER_SEC));
  /* postcopy is offered only when asked for (it trusts the front-end with
   * this process's memory); a front-end that acks memory slots too (QEMU
   * does) could not use it, so --postcopy offers none */
  if (postcopy)
    g_object_set (backend, "protocol-features",
                  (vhost_user_backend_get_protocol_features (backend) |
                   VHOST_USER_PROTOCOL_FEATURE_PAGEFAULT) &
                  ~(guint64) VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS, NULL);
  g_signal_connect (backend, "disconnected", G_CALLBACK (on_disconnected), NULL);
  if (queue_threads)
    example_blk_device_set_queue_threads (EXAMPLE_BLK_DEVICE (backend), TRUE);
  if (verbose)
    example_log_every_request (backend);
  if (quiet)
    return TRUE;
  g_signal_connect (backend, "notify::acked-features", G_CALLBACK (on_acked_features), NULL);
  g_signal_connect (backend, "notify::acked-protocol-features", G_CALLBACK (on_acked_protocol_features), NULL);
  g_signal_connect (backend, "notify::memory-table", G_CALLBACK (on_memory_table), NULL);
  return TRUE;
}

/* the back-ends to tell on SIGHUP (each thread-safe weak reference) */
static GPtrArray *backends;
static GMutex backends_lock;

static void
forget_backend (gpointer  data,
                GObject  *where_the_object_was)
{
  g_mutex_lock (&backends_lock);
  g_ptr_array_remove (backends, where_the_object_was);
  g_mutex_unlock (&backends_lock);
}

static void
on_backend_added (VhostUserServer  *server,
                  VhostUserBackend *backend,
                  gpointer          user_data)
{
  if (!quiet)
    g_print ("connected: a front-end\n");
  setup_backend (backend);
  g_mutex_lock (&backends_lock);
  g_ptr_array_add (backends, backend);
  g_mutex_unlock (&backends_lock);
  g_object_weak_ref (G_OBJECT (backend), forget_backend, NULL);
}

static gboolean
refresh_capacity (gpointer user_data)
{
  example_blk_device_refresh_capacity (EXAMPLE_BLK_DEVICE (user_data));
  return G_SOURCE_REMOVE;
}

/* SIGHUP: the image may have been resized; each back-end looks, in its
 * own context (a worker thread's with --threaded) */
static gboolean
on_hangup (gpointer user_data)
{
  g_mutex_lock (&backends_lock);
  for (guint i = 0; i < backends->len; i++)
    {
      VhostUserBackend *backend = g_ptr_array_index (backends, i);

      g_main_context_invoke_full (vhost_user_backend_get_main_context (backend), G_PRIORITY_DEFAULT,
                                  refresh_capacity, g_object_ref (backend), g_object_unref);
    }
  g_mutex_unlock (&backends_lock);
  return G_SOURCE_CONTINUE;
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
  g_autoptr(VhostUserBackend) backend = NULL;

  options = g_option_context_new ("- a vhost-user-blk back-end");
  g_option_context_set_summary (options,
    "Serves a virtio-blk device over vhost-user: QEMU's -device vhost-user-blk-pci\n"
    "realizes it, reads its config space (capacity, block size, queues) and sets up\n"
    "its rings. Says what was negotiated (--verbose: every request too; --quiet: nothing).\n"
    "\n"
    "The disk is a RAM disk, or with --image a raw file read and written with\n"
    "preadv/pwritev (FLUSH is fdatasync). Requests: read, write, flush, get-id and,\n"
    "unless --read-only, discard and write-zeroes (a hole is punched where the\n"
    "filesystem can, else the range is zeroed).\n"
    "\n"
    "SIGHUP: the image's size is read again; a new capacity goes into the config\n"
    "space and the front-end is told (the guest sees the disk resized).");
  g_option_context_add_main_entries (options, entries, NULL);
  example_access_add_options (options);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return EXIT_FAILURE;
    }
  if (socket_path == NULL || capacity_mb <= 0 || num_queues < 1 || num_queues > 256 ||
      block_size < 512 || (block_size & (block_size - 1)) != 0 ||
      latency_ms < 0 || latency_ms > 60000 || jitter_ms < 0 || jitter_ms > latency_ms)
    {
      g_printerr ("vhost-user-blk: --socket is required; capacity, queues (1-256), block size "
                  "(a power of two from 512), latency (0-60000 ms) and jitter (up to the latency) "
                  "must make sense\n");
      return EXIT_FAILURE;
    }

  if (image != NULL)
    {
      g_autoptr(ExampleBlkDevice) check = g_object_new (EXAMPLE_TYPE_BLK_DEVICE, NULL);

      image_fd = open (image, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
      if (image_fd < 0)
        {
          g_printerr ("vhost-user-blk: Opening %s: %s\n", image, g_strerror (errno));
          return EXIT_FAILURE;
        }
      if (!example_blk_device_take_image_fd (check, fcntl (image_fd, F_DUPFD_CLOEXEC, 0), image, read_only, &error))
        {
          g_printerr ("vhost-user-blk: %s\n", error->message);
          return EXIT_FAILURE;
        }
    }

  setvbuf (stdout, NULL, _IOLBF, 0);
  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_signal, NULL);
  g_unix_signal_add (SIGTERM, on_signal, NULL);
  backends = g_ptr_array_new ();
  g_unix_signal_add (SIGHUP, on_hangup, NULL);
  example_blk_device_set_default_geometry ((guint64) capacity_mb * 1024 * 1024, block_size, num_queues);

  if (connect_mode)
    {
      backend = g_object_new (EXAMPLE_TYPE_BLK_DEVICE, NULL);
      if (!setup_backend (backend))
        return EXIT_FAILURE;
      g_ptr_array_add (backends, backend);
      g_object_weak_ref (G_OBJECT (backend), forget_backend, NULL);
      if (!vhost_user_backend_connect_to_path (backend, socket_path, 30000, NULL, &error))
        {
          g_printerr ("vhost-user-blk: %s\n", error->message);
          return EXIT_FAILURE;
        }
      g_print ("connected: to %s\n", socket_path);
    }
  else
    {
      server = vhost_user_server_new (EXAMPLE_TYPE_BLK_DEVICE, threaded);
      if (max_threads >= 0)
        vhost_user_server_set_max_threads (server, max_threads);
      g_signal_connect (server, "backend-added", G_CALLBACK (on_backend_added), NULL);
      if (!example_access_apply (server, &error) || !vhost_user_server_listen (server, socket_path, &error))
        {
          g_printerr ("vhost-user-blk: %s\n", error->message);
          return EXIT_FAILURE;
        }
      if (image != NULL)
        g_print ("listening: %s (image %s%s, %d queue%s%s)\n", socket_path, image, read_only ? ", read-only" : "",
                 num_queues, num_queues > 1 ? "s" : "", queue_threads ? " in threads" : "");
      else
        g_print ("listening: %s (%" G_GINT64_FORMAT " MiB, %d queue%s%s)\n", socket_path, capacity_mb,
                 num_queues, num_queues > 1 ? "s" : "", queue_threads ? " in threads" : "");
    }

  g_main_loop_run (loop);

  if (server != NULL)
    vhost_user_server_stop (server);
  g_main_loop_unref (loop);
  if (image_fd >= 0)
    close (image_fd);
  return EXIT_SUCCESS;
}
