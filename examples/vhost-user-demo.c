/* vhost-user-demo.c: a front-end and a back-end talking over a real socket
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Both ends live in one process and one main loop, joined by a listening
 * UNIX socket as QEMU and a device would be. The front-end negotiates
 * features, shares a memfd of "guest memory" with a string in it and
 * hands over a call eventfd; the back-end maps the memory, reads the
 * string and signals the eventfd. Every message is traced, decoded.
 *
 * Until the VhostUserBackend and VhostUserFrontend objects exist this
 * drives the connection layer underneath them directly.
 */

#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <vhost-user-glib.h>

#include "vhost-user-connection-private.h"
#include "vhost-user-socket-private.h"

#define GUEST_MEMORY_SIZE  (1024 * 1024)
#define GUEST_PHYS_BASE    0x100000
#define GREETING_OFFSET    0x2000
#define GREETING           "hello from guest memory"

#define DEVICE_FEATURES    (VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1) | \
                            VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_PROTOCOL_FEATURES))
#define DEVICE_PROTOCOL    (VHOST_USER_PROTOCOL_FEATURE_MQ | VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK | \
                            VHOST_USER_PROTOCOL_FEATURE_CONFIGURE_MEM_SLOTS)

typedef struct {
  GMainLoop           *loop;
  GSocket             *listener;
  VhostUserConnection *backend;
  VhostUserConnection *frontend;
  guint                step;
  int                  guest_memfd;
  int                  call_fd;
  guint                call_watch;
  int                  status;
  guint64              acked_protocol;
} Demo;

static void
fail (Demo       *demo,
      const char *what,
      GError     *error)
{
  g_printerr ("vhost-user-demo: %s: %s\n", what, error != NULL ? error->message : "failed");
  demo->status = EXIT_FAILURE;
  g_main_loop_quit (demo->loop);
}

/* --- the back-end: answers requests --- */

static void
backend_reply (Demo                   *demo,
               const VhostUserMessage *request,
               gboolean                with_u64,
               guint64                 value)
{
  VhostUserMessage reply = VHOST_USER_MESSAGE_INIT;
  g_autoptr(GError) error = NULL;

  vhost_user_message_init_reply (&reply, request);
  if (with_u64)
    vhost_user_message_set_u64 (&reply, value);
  if (!vhost_user_connection_send (demo->backend, &reply, &error))
    fail (demo, "back-end reply", error);
}

static void
backend_ack (Demo                   *demo,
             const VhostUserMessage *request,
             guint64                 status)
{
  if ((demo->acked_protocol & VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK) &&
      vhost_user_message_needs_reply (request))
    backend_reply (demo, request, TRUE, status);
}

static void
backend_map_memory (Demo             *demo,
                    VhostUserMessage *msg)
{
  VhostUserWireXenMemoryRegion region;
  guint8 *base;
  int fd;

  if (!vhost_user_message_get_mem_table_region (msg, 0, &region))
    {
      backend_ack (demo, msg, 1);
      return;
    }

  fd = vhost_user_message_steal_fd (msg, 0);
  base = mmap (NULL, region.memory_size + region.mmap_offset, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  g_close (fd, NULL);
  if (base == MAP_FAILED)
    {
      backend_ack (demo, msg, 1);
      return;
    }

  g_print ("back-end:  mapped %" G_GUINT64_FORMAT " KiB of guest memory at guest-physical 0x%" G_GINT64_MODIFIER "x;"
           " it reads \"%s\" at 0x%x\n",
           region.memory_size / 1024, region.guest_phys_addr,
           (const char *) base + region.mmap_offset + GREETING_OFFSET, GUEST_PHYS_BASE + GREETING_OFFSET);
  munmap (base, region.memory_size + region.mmap_offset);
  backend_ack (demo, msg, 0);
}

static void
backend_message (VhostUserConnection *connection,
                 VhostUserMessage    *msg,
                 const GError        *error,
                 gpointer             user_data)
{
  Demo *demo = user_data;

  if (error != NULL)
    {
      fail (demo, "back-end received a bad message", (GError *) error);
      return;
    }

  switch (msg->header.request)
    {
    case VHOST_USER_REQUEST_GET_FEATURES:
      backend_reply (demo, msg, TRUE, DEVICE_FEATURES);
      break;

    case VHOST_USER_REQUEST_GET_PROTOCOL_FEATURES:
      backend_reply (demo, msg, TRUE, DEVICE_PROTOCOL);
      break;

    case VHOST_USER_REQUEST_SET_PROTOCOL_FEATURES:
      vhost_user_message_get_u64 (msg, &demo->acked_protocol);
      demo->acked_protocol &= DEVICE_PROTOCOL;
      backend_ack (demo, msg, 0);
      break;

    case VHOST_USER_REQUEST_SET_MEM_TABLE:
      backend_map_memory (demo, msg);
      break;

    case VHOST_USER_REQUEST_SET_VRING_CALL:
      {
        int fd = vhost_user_message_steal_fd (msg, 0);
        guint64 one = 1;

        g_print ("back-end:  got a call eventfd; signalling it\n");
        if (write (fd, &one, sizeof one) != sizeof one)
          g_printerr ("vhost-user-demo: eventfd write failed\n");
        g_close (fd, NULL);
        backend_ack (demo, msg, 0);
      }
      break;

    default:
      backend_ack (demo, msg, 0);
      break;
    }
}

/* --- the front-end: a script of requests, each sent after the reply it waits for --- */

static void frontend_next (Demo *demo);

static gboolean
call_ready (int          fd,
            GIOCondition condition,
            gpointer     user_data)
{
  Demo *demo = user_data;
  guint64 value = 0;

  if (read (fd, &value, sizeof value) == sizeof value)
    g_print ("front-end: the back-end's call arrived through the eventfd (count %" G_GUINT64_FORMAT ")\n", value);
  demo->call_watch = 0;
  g_main_loop_quit (demo->loop);
  return G_SOURCE_REMOVE;
}

static void
frontend_send (Demo             *demo,
               VhostUserMessage *msg)
{
  g_autoptr(GError) error = NULL;

  if (!vhost_user_connection_send (demo->frontend, msg, &error))
    fail (demo, "front-end send", error);
}

static void
frontend_message (VhostUserConnection *connection,
                  VhostUserMessage    *msg,
                  const GError        *error,
                  gpointer             user_data)
{
  Demo *demo = user_data;
  guint64 value = 0;

  if (error != NULL)
    {
      fail (demo, "front-end received a bad reply", (GError *) error);
      return;
    }

  vhost_user_message_get_u64 (msg, &value);
  switch (msg->header.request)
    {
    case VHOST_USER_REQUEST_GET_FEATURES:
      g_print ("front-end: device features 0x%" G_GINT64_MODIFIER "x\n", value);
      break;
    case VHOST_USER_REQUEST_GET_PROTOCOL_FEATURES:
      {
        g_autoptr(GFlagsClass) klass = g_type_class_ref (VHOST_USER_TYPE_PROTOCOL_FEATURES);
        g_autoptr(GString) names = g_string_new (NULL);

        for (guint i = 0; i < klass->n_values; i++)
          if (klass->values[i].value != 0 && (value & klass->values[i].value) == klass->values[i].value)
            g_string_append_printf (names, " %s", klass->values[i].value_nick);
        g_print ("front-end: protocol features 0x%" G_GINT64_MODIFIER "x:%s\n", value, names->str);
      }
      break;
    default:
      g_print ("front-end: %s acknowledged with %" G_GUINT64_FORMAT "\n",
               vhost_user_request_type_get_name (msg->header.request), value);
      break;
    }
  frontend_next (demo);
}

static void
frontend_next (Demo *demo)
{
  VhostUserMessage msg = VHOST_USER_MESSAGE_INIT;

  switch (demo->step++)
    {
    case 0:
      vhost_user_message_init (&msg, VHOST_USER_REQUEST_GET_FEATURES, 0);
      frontend_send (demo, &msg);
      break;

    case 1:
      vhost_user_message_init (&msg, VHOST_USER_REQUEST_GET_PROTOCOL_FEATURES, 0);
      frontend_send (demo, &msg);
      break;

    case 2:
      /* no reply without NEED_REPLY: go straight on */
      vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_PROTOCOL_FEATURES, 0);
      vhost_user_message_set_u64 (&msg, VHOST_USER_PROTOCOL_FEATURE_REPLY_ACK);
      frontend_send (demo, &msg);
      vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_OWNER, 0);
      frontend_send (demo, &msg);
      vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_FEATURES, 0);
      vhost_user_message_set_u64 (&msg, DEVICE_FEATURES);
      frontend_send (demo, &msg);
      frontend_next (demo);
      break;

    case 3:
      {
        VhostUserWireXenMemoryRegion region = {
          .guest_phys_addr = GUEST_PHYS_BASE,
          .memory_size = GUEST_MEMORY_SIZE,
          .userspace_addr = 0x7f0000000000,
          .mmap_offset = 0,
        };

        vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_MEM_TABLE, VHOST_USER_FLAG_NEED_REPLY);
        vhost_user_message_set_mem_table (&msg, &region, 1, FALSE);
        vhost_user_message_add_fd (&msg, dup (demo->guest_memfd));
        frontend_send (demo, &msg);
      }
      break;

    case 4:
      vhost_user_message_init (&msg, VHOST_USER_REQUEST_SET_VRING_CALL, VHOST_USER_FLAG_NEED_REPLY);
      vhost_user_message_set_vring_fd (&msg, 0, dup (demo->call_fd));
      frontend_send (demo, &msg);
      break;

    default:
      /* the call eventfd's watch ends the demo */
      break;
    }
}

static gboolean
on_incoming (GSocket      *listener,
             GIOCondition  condition,
             gpointer      user_data)
{
  Demo *demo = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_accept (listener, NULL, &error);

  if (socket == NULL)
    {
      fail (demo, "accept", error);
      return G_SOURCE_REMOVE;
    }
  g_print ("back-end:  accepted a front-end\n");
  demo->backend = vhost_user_connection_new (socket, VHOST_USER_CHANNEL_MAIN, FALSE, NULL);
  vhost_user_connection_set_handlers (demo->backend, backend_message, NULL, demo);
  vhost_user_connection_start (demo->backend);
  return G_SOURCE_REMOVE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) frontend_socket = NULL;
  g_autofree char *socket_path = NULL;
  g_autofree char *tmpdir = NULL;
  gboolean quiet = FALSE;
  GOptionEntry entries[] = {
    { "socket", 's', 0, G_OPTION_ARG_FILENAME, &socket_path, "Where to listen (default: a new temporary directory)", "PATH" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Do not trace every message", NULL },
    { NULL }
  };
  GSource *accept_source;
  Demo demo = { 0 };
  guint8 *guest;

  options = g_option_context_new ("- a vhost-user front-end and back-end over a socket");
  g_option_context_set_summary (options,
    "Runs both ends of a vhost-user connection in one process: the front-end negotiates\n"
    "features, shares a memfd of guest memory and a call eventfd; the back-end maps the\n"
    "memory and signals the eventfd. Messages are traced (VHOST_USER_DEBUG=trace).");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return EXIT_FAILURE;
    }

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

  demo.loop = g_main_loop_new (NULL, FALSE);
  demo.listener = vhost_user_socket_listen (socket_path, 0, &error);
  if (demo.listener == NULL)
    {
      g_printerr ("vhost-user-demo: %s\n", error->message);
      return EXIT_FAILURE;
    }
  g_print ("back-end:  listening on %s\n", socket_path);
  accept_source = g_socket_create_source (demo.listener, G_IO_IN, NULL);
  g_source_set_callback (accept_source, (GSourceFunc) (void (*) (void)) on_incoming, &demo, NULL);
  g_source_attach (accept_source, NULL);

  /* guest memory with something in it for the back-end to find */
  demo.guest_memfd = memfd_create ("guest-ram", MFD_CLOEXEC);
  if (demo.guest_memfd < 0 || ftruncate (demo.guest_memfd, GUEST_MEMORY_SIZE) < 0)
    {
      g_printerr ("vhost-user-demo: memfd: %s\n", g_strerror (errno));
      return EXIT_FAILURE;
    }
  guest = mmap (NULL, GUEST_MEMORY_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, demo.guest_memfd, 0);
  g_assert (guest != MAP_FAILED);
  memcpy (guest + GREETING_OFFSET, GREETING, sizeof GREETING);
  munmap (guest, GUEST_MEMORY_SIZE);

  demo.call_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  demo.call_watch = g_unix_fd_add (demo.call_fd, G_IO_IN, call_ready, &demo);

  frontend_socket = vhost_user_socket_connect (socket_path, 1000, NULL, &error);
  if (frontend_socket == NULL)
    {
      g_printerr ("vhost-user-demo: %s\n", error->message);
      return EXIT_FAILURE;
    }
  g_print ("front-end: connected to %s\n", socket_path);
  demo.frontend = vhost_user_connection_new (frontend_socket, VHOST_USER_CHANNEL_MAIN, TRUE, NULL);
  vhost_user_connection_set_handlers (demo.frontend, frontend_message, NULL, &demo);
  vhost_user_connection_start (demo.frontend);

  frontend_next (&demo);
  g_main_loop_run (demo.loop);

  g_source_destroy (accept_source);
  g_source_unref (accept_source);
  if (demo.call_watch != 0)
    g_source_remove (demo.call_watch);
  g_clear_object (&demo.frontend);
  g_clear_object (&demo.backend);
  g_clear_object (&demo.listener);
  g_close (demo.guest_memfd, NULL);
  g_close (demo.call_fd, NULL);
  g_unlink (socket_path);
  if (tmpdir != NULL)
    g_rmdir (tmpdir);
  g_main_loop_unref (demo.loop);

  if (demo.status == EXIT_SUCCESS)
    g_print ("done: both ends agreed, memory and eventfd crossed the socket\n");
  return demo.status;
}
