/* vhost-user-net.c: a vhost-user-net (virtio-net) back-end
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   vhost-user-net --socket /tmp/net.sock (--tap tap0 | --loopback | --sink)
 *
 * Queue pair i is receive queue 2i and transmit queue 2i+1. What the
 * driver transmits goes to a kernel tap device (--tap; the virtio-net
 * header passes through, so checksum and segmentation offloads work end to
 * end), straight back into the same pair's receive queue (--loopback), or
 * nowhere (--sink, counted). The control queue stays with the front-end,
 * as the spec says.
 *
 * Transmit queues are served in batches (vhost_user_vring_pop_batch(), one
 * push and one call per batch); packets go into receive queues with
 * vhost_user_vring_receive(), which spreads them over merged receive
 * buffers. Nothing is allocated per packet. A loopback pair whose receive
 * queue is full leaves the rest of the transmit queue where it is
 * (vhost_user_vring_unpop()) until the driver posts receive buffers; a tap
 * stops being read meanwhile.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <linux/if_tun.h>
#include <glib-unix.h>
#include <vhost-user-glib.h>

#include "example-access.h"

/* virtio-net feature bits (virtio 1.2, 5.1.3) */
#define VIRTIO_NET_F_CSUM            0
#define VIRTIO_NET_F_GUEST_CSUM      1
#define VIRTIO_NET_F_MTU             3
#define VIRTIO_NET_F_MAC             5
#define VIRTIO_NET_F_GUEST_TSO4      7
#define VIRTIO_NET_F_GUEST_TSO6      8
#define VIRTIO_NET_F_GUEST_ECN       9
#define VIRTIO_NET_F_HOST_TSO4       11
#define VIRTIO_NET_F_HOST_TSO6       12
#define VIRTIO_NET_F_HOST_ECN        13
#define VIRTIO_NET_F_MRG_RXBUF       15
#define VIRTIO_NET_F_STATUS          16
#define VIRTIO_NET_F_CTRL_VQ         17
#define VIRTIO_NET_F_GUEST_ANNOUNCE  21
#define VIRTIO_NET_F_MQ              22

#define VIRTIO_NET_S_LINK_UP         1

#define BATCH       64                   /* transmit requests per pop */
#define RX_SCRATCH  VHOST_USER_VRING_MAX_UNPOP
#define MAX_PACKET  (65536 + 14 + 4)     /* a GSO packet and its Ethernet header */
#define HDR_MAX     12

typedef enum {
  MODE_NONE,
  MODE_TAP,
  MODE_LOOPBACK,
  MODE_SINK,
} Mode;

typedef struct {
  guint64 packets;
  guint64 bytes;
  guint64 drops;
} Counters;

typedef struct _Net Net;

typedef struct {
  Net                   *net;
  guint                  index;
  VhostUserVring        *rx;
  VhostUserVring        *tx;
  GMainContext          *context;
  GMainLoop             *loop;       /* with --queue-threads */
  GThread               *thread;
  int                    tap;
  gboolean               tap_gone;
  GSource               *tap_source;
  gpointer               tap_tag;
  /* a packet read from the tap that found no receive buffers yet */
  gsize                  pending;
  /* loopback: transmit stopped until the receive queue has room */
  gboolean               rx_waiting;
  VhostUserVringElement *scratch;    /* RX_SCRATCH receive requests */
  VhostUserVringElement *batch;      /* BATCH transmit requests */
  guint8                *buf;        /* HDR_MAX + MAX_PACKET: a packet being copied */
  Counters               rx_count;
  Counters               tx_count;
} Pair;

struct _Net {
  VhostUserBackend *backend;
  GPtrArray        *pairs;
  /* from the acked features, read by the queues' threads */
  gint              hdr_len;
  gint              merged;
};

static char *socket_path;
static gboolean connect_mode;
static gint num_pairs = 1;
static char *tap_name;
static gboolean loopback;
static gboolean sink;
static gboolean queue_threads;
static gint poll_us;
static gint stats_secs;
static gint mtu = 1500;
static char *mac_string;
static gboolean once;
static gboolean verbose;

static Mode mode;
static guint8 mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static GMainLoop *loop;
static GPtrArray *nets;

static GOptionEntry entries[] = {
  { "socket", 's', 0, G_OPTION_ARG_FILENAME, &socket_path, "Socket to listen on (or with --connect, to connect to)", "PATH" },
  { "connect", 'c', 0, G_OPTION_ARG_NONE, &connect_mode, "Connect to a front-end listening at --socket, and exit when it goes", NULL },
  { "queues", 'q', 0, G_OPTION_ARG_INT, &num_pairs, "Queue pairs (1-128; default 1)", "N" },
  { "tap", 't', 0, G_OPTION_ARG_STRING, &tap_name, "Connect the device to this tap interface (made if missing; root or CAP_NET_ADMIN)", "IFNAME" },
  { "loopback", 'l', 0, G_OPTION_ARG_NONE, &loopback, "Send every transmitted packet back to the driver", NULL },
  { "sink", 0, 0, G_OPTION_ARG_NONE, &sink, "Count transmitted packets and drop them", NULL },
  { "queue-threads", 'T', 0, G_OPTION_ARG_NONE, &queue_threads, "Serve each queue pair in a thread of its own", NULL },
  { "poll-us", 0, 0, G_OPTION_ARG_INT, &poll_us,
    "After a kick, busy-poll each ring this long for more before sleeping (kicks off meanwhile; "
    "best with --queue-threads)", "N" },
  { "stats", 0, 0, G_OPTION_ARG_INT, &stats_secs, "Print each queue pair's counters every N seconds", "N" },
  { "mtu", 0, 0, G_OPTION_ARG_INT, &mtu, "The MTU the device offers (68-65535; default 1500)", "N" },
  { "mac", 0, 0, G_OPTION_ARG_STRING, &mac_string, "The MAC address the device offers (default 52:54:00:12:34:56)", "MAC" },
  { "once", 0, 0, G_OPTION_ARG_NONE, &once, "Exit when the first front-end disconnects", NULL },
  { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Say what was negotiated", NULL },
  { NULL }
};

/* VhostUserVringBuffer is laid out as struct iovec: a request's buffers
 * go to writev() as they are */
G_STATIC_ASSERT (sizeof (VhostUserVringBuffer) == sizeof (struct iovec));
G_STATIC_ASSERT (G_STRUCT_OFFSET (VhostUserVringBuffer, len) == G_STRUCT_OFFSET (struct iovec, iov_len));

static void
count (Counters *c,
       guint64   packets,
       guint64   bytes,
       guint64   drops)
{
  /* a queue thread counts, the main thread prints */
  __atomic_store_n (&c->packets, c->packets + packets, __ATOMIC_RELAXED);
  __atomic_store_n (&c->bytes, c->bytes + bytes, __ATOMIC_RELAXED);
  __atomic_store_n (&c->drops, c->drops + drops, __ATOMIC_RELAXED);
}

static void
print_stats (void)
{
  for (guint n = 0; n < nets->len; n++)
    {
      Net *net = g_ptr_array_index (nets, n);

      for (guint i = 0; i < net->pairs->len; i++)
        {
          Pair *p = g_ptr_array_index (net->pairs, i);

          g_print ("net: queue %u: rx %" G_GUINT64_FORMAT " packets %" G_GUINT64_FORMAT " bytes %"
                   G_GUINT64_FORMAT " drops, tx %" G_GUINT64_FORMAT " packets %" G_GUINT64_FORMAT " bytes %"
                   G_GUINT64_FORMAT " drops\n", p->index,
                   __atomic_load_n (&p->rx_count.packets, __ATOMIC_RELAXED),
                   __atomic_load_n (&p->rx_count.bytes, __ATOMIC_RELAXED),
                   __atomic_load_n (&p->rx_count.drops, __ATOMIC_RELAXED),
                   __atomic_load_n (&p->tx_count.packets, __ATOMIC_RELAXED),
                   __atomic_load_n (&p->tx_count.bytes, __ATOMIC_RELAXED),
                   __atomic_load_n (&p->tx_count.drops, __ATOMIC_RELAXED));
        }
    }
}

/* --- receive: packets into the driver's receive queue --- */

/* One packet, header first. Returns FALSE when the queue has no room now
 * (the packet is still the caller's); a packet that can never fit, or a
 * broken ring, is a drop. */
static gboolean
receive (Pair         *p,
         guint8       *header,
         const guint8 *data,
         gsize         len)
{
  g_autoptr(GError) error = NULL;
  gsize hdr_len = g_atomic_int_get (&p->net->hdr_len);
  gboolean merged = g_atomic_int_get (&p->net->merged);

  /* without merged buffers a VERSION_1 header still says one buffer */
  if (hdr_len == 12)
    {
      header[10] = 1;
      header[11] = 0;
    }
  if (vhost_user_vring_receive (p->rx, p->scratch, RX_SCRATCH, header, hdr_len, merged ? 10 : -1, data, len, NULL,
                                &error))
    {
      count (&p->rx_count, 1, len, 0);
      return TRUE;
    }
  if (error == NULL)
    return FALSE;
  if (verbose)
    g_printerr ("net: %s\n", error->message);
  count (&p->rx_count, 0, 0, 1);
  return TRUE;
}

/* --- the tap --- */

static void tap_pause (Pair *p, gboolean pause);

/* Reads what the tap has, into the receive queue, until it is empty or
 * the queue is full. */
static gboolean
on_tap_readable (gpointer user_data)
{
  Pair *p = user_data;
  gsize hdr_len = g_atomic_int_get (&p->net->hdr_len);
  guint received = 0;

  for (guint i = 0; i < BATCH; i++)
    {
      if (p->pending == 0)
        {
          ssize_t got = read (p->tap, p->buf, hdr_len + MAX_PACKET);

          if (got < 0 && errno == EINTR)
            continue;
          if (got < 0 && errno != EAGAIN)
            {
              /* the interface went away (EBADFD): it will not come back
               * on this fd; what the driver sends is dropped from now on */
              g_printerr ("net: tap %s: %s; queue %u no longer reads it\n", tap_name, g_strerror (errno),
                          p->index);
              p->tap_gone = TRUE;
              /* not paused: poll(2) reports its error whatever we ask */
              g_source_remove_unix_fd (p->tap_source, p->tap_tag);
              break;
            }
          if (got < 0)
            break;
          if ((gsize) got < hdr_len)
            {
              count (&p->rx_count, 0, 0, 1);
              continue;
            }
          p->pending = got;
        }
      if (!receive (p, p->buf, p->buf + hdr_len, p->pending - hdr_len))
        {
          /* no room: wait for the driver to post some (it kicks) */
          tap_pause (p, TRUE);
          break;
        }
      p->pending = 0;
      received++;
    }
  if (received > 0)
    vhost_user_vring_call (p->rx, NULL);
  return G_SOURCE_CONTINUE;
}

static void
tap_pause (Pair     *p,
           gboolean  pause)
{
  if (p->tap_source == NULL || (p->tap_gone && !pause))
    return;
  g_source_modify_unix_fd (p->tap_source, p->tap_tag, pause ? 0 : G_IO_IN);
}

static gboolean
tap_dispatch (GSource     *source,
              GSourceFunc  callback,
              gpointer     user_data)
{
  return callback (user_data);
}

/* a source of our own: g_unix_fd_source_new() gives no tag to pause by */
static GSourceFuncs tap_funcs = { NULL, NULL, tap_dispatch, NULL, NULL, NULL };

static int
tap_open (const char  *name,
          gboolean     multi_queue,
          GError     **error)
{
  struct ifreq ifr = { 0 };
  int fd = open ("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);

  if (fd < 0)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "/dev/net/tun: %s", g_strerror (errsv));
      return -1;
    }
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (multi_queue ? IFF_MULTI_QUEUE : 0);
  g_strlcpy (ifr.ifr_name, name, IFNAMSIZ);
  if (ioctl (fd, TUNSETIFF, &ifr) < 0)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "tap %s: %s", name, g_strerror (errsv));
      close (fd);
      return -1;
    }
  return fd;
}

/* The tap's header size and the offloads it may hand us: what the
 * driver can take (the guest's GUEST_* features). */
static void
tap_configure (Pair    *p,
               guint64  features)
{
  int hdr_len = g_atomic_int_get (&p->net->hdr_len);
  unsigned int offload = 0;

  if (p->tap < 0 || p->tap_gone)
    return;
  if (features & VHOST_USER_FEATURE (VIRTIO_NET_F_GUEST_CSUM))
    {
      offload |= TUN_F_CSUM;
      if (features & VHOST_USER_FEATURE (VIRTIO_NET_F_GUEST_TSO4))
        offload |= TUN_F_TSO4;
      if (features & VHOST_USER_FEATURE (VIRTIO_NET_F_GUEST_TSO6))
        offload |= TUN_F_TSO6;
      if ((offload & (TUN_F_TSO4 | TUN_F_TSO6)) && (features & VHOST_USER_FEATURE (VIRTIO_NET_F_GUEST_ECN)))
        offload |= TUN_F_TSO_ECN;
    }
  if (ioctl (p->tap, TUNSETVNETHDRSZ, &hdr_len) < 0 || ioctl (p->tap, TUNSETOFFLOAD, offload) < 0)
    g_printerr ("net: tap %s: %s\n", tap_name, g_strerror (errno));
}

/* --- transmit: what the driver sends --- */

/* One batch; returns how many requests it took. */
static guint
transmit (Pair     *p,
          gboolean *received)
{
  VhostUserVringElement *e;
  gsize hdr_len = g_atomic_int_get (&p->net->hdr_len);
  guint heads[BATCH], lens[BATCH];
  guint n, i, done = 0;
  g_autoptr(GError) error = NULL;

  if (!vhost_user_vring_pop_batch (p->tx, p->batch, BATCH, &n, &error) && n == 0)
    {
      g_printerr ("net: queue %u: %s\n", p->index, error->message);
      return 0;
    }
  for (i = 0; i < n; i++)
    {
      e = &p->batch[i];
      heads[done] = e->head;
      lens[done] = 0;
      if (e->out_len < hdr_len || e->out_len - hdr_len > MAX_PACKET)
        {
          /* shorter than its header, or no packet at all */
          count (&p->tx_count, 0, 0, 1);
          done++;
          continue;
        }
      switch (mode)
        {
        case MODE_SINK:
          count (&p->tx_count, 1, e->out_len - hdr_len, 0);
          break;

        case MODE_TAP:
          if (writev (p->tap, (const struct iovec *) e->out, e->n_out) < 0)
            count (&p->tx_count, 0, 0, 1);
          else
            count (&p->tx_count, 1, e->out_len - hdr_len, 0);
          break;

        case MODE_LOOPBACK:
          vhost_user_vring_element_copy_out (e, 0, p->buf, e->out_len);
          if (!receive (p, p->buf, p->buf + hdr_len, e->out_len - hdr_len))
            goto full;
          *received = TRUE;
          count (&p->tx_count, 1, e->out_len - hdr_len, 0);
          break;

        case MODE_NONE:
        default:
          g_assert_not_reached ();
        }
      done++;
    }
  goto out;

full:
  /* the rest stays on the ring, for when the driver posts receive
   * buffers: handed back newest first */
  for (guint j = n; j-- > i;)
    if (!vhost_user_vring_unpop (p->tx, p->batch[j].head, NULL))
      {
        heads[done] = p->batch[j].head;
        lens[done++] = 0;
        count (&p->tx_count, 0, 0, 1);
      }
  p->rx_waiting = TRUE;

out:
  if (done > 0)
    {
      /* refused whole, it hands nothing back: each on its own then */
      if (!vhost_user_vring_push_batch (p->tx, heads, lens, done, NULL))
        for (guint k = 0; done > 1 && k < done; k++)
          vhost_user_vring_push (p->tx, heads[k], lens[k], NULL);
      vhost_user_vring_call (p->tx, NULL);
    }
  if (error != NULL)
    g_printerr ("net: queue %u: %s\n", p->index, error->message);
  return n;
}

static void
on_tx_kick (VhostUserVring *vring,
            gpointer        user_data)
{
  Pair *p = user_data;
  gboolean received = FALSE;

  /* a batch at a time until the ring is empty (or receive is full) */
  while (!p->rx_waiting && transmit (p, &received) == BATCH)
    ;
  if (received)
    vhost_user_vring_call (p->rx, NULL);
}

static void
on_rx_kick (VhostUserVring *vring,
            gpointer        user_data)
{
  Pair *p = user_data;

  /* the driver posted receive buffers: whatever waited for them goes */
  switch (mode)
    {
    case MODE_LOOPBACK:
      if (p->rx_waiting)
        {
          p->rx_waiting = FALSE;
          on_tx_kick (p->tx, p);
        }
      break;

    case MODE_TAP:
      if (!p->tap_gone)
        {
          tap_pause (p, FALSE);
          on_tap_readable (p);
        }
      break;

    case MODE_SINK:
    case MODE_NONE:
    default:
      break;
    }
}

/* --- queue pairs --- */

static gpointer
pair_thread (gpointer data)
{
  Pair *p = data;

  g_main_context_push_thread_default (p->context);
  g_main_loop_run (p->loop);
  g_main_context_pop_thread_default (p->context);
  return NULL;
}

static gboolean
quit_loop (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static void
pair_free (Pair *p)
{
  vhost_user_vring_set_kick_handler (p->rx, NULL, NULL, NULL);
  vhost_user_vring_set_kick_handler (p->tx, NULL, NULL, NULL);
  if (p->tap_source != NULL)
    {
      g_source_destroy (p->tap_source);
      g_source_unref (p->tap_source);
    }
  if (p->thread != NULL)
    {
      vhost_user_vring_set_context (p->rx, NULL);
      vhost_user_vring_set_context (p->tx, NULL);
      g_main_context_invoke_full (p->context, G_PRIORITY_HIGH, quit_loop, g_main_loop_ref (p->loop),
                                  (GDestroyNotify) g_main_loop_unref);
      g_thread_join (p->thread);
      g_main_loop_unref (p->loop);
    }
  if (p->tap >= 0)
    close (p->tap);
  g_main_context_unref (p->context);
  g_object_unref (p->rx);
  g_object_unref (p->tx);
  g_free (p->scratch);
  g_free (p->batch);
  g_free (p->buf);
  g_free (p);
}

static Pair *
pair_new (Net      *net,
          guint     index,
          GError  **error)
{
  Pair *p = g_new0 (Pair, 1);

  p->net = net;
  p->index = index;
  p->tap = -1;
  p->rx = g_object_ref (vhost_user_backend_get_vring (net->backend, 2 * index));
  p->tx = g_object_ref (vhost_user_backend_get_vring (net->backend, 2 * index + 1));
  /* filled by each pop before use: not zeroed */
  p->scratch = g_new (VhostUserVringElement, RX_SCRATCH);
  p->batch = g_new (VhostUserVringElement, BATCH);
  p->buf = g_malloc (HDR_MAX + MAX_PACKET);
  if (queue_threads)
    {
      g_autofree char *name = g_strdup_printf ("net-queue-%u", index);

      p->context = g_main_context_new ();
      p->loop = g_main_loop_new (p->context, FALSE);
      p->thread = g_thread_new (name, pair_thread, p);
      vhost_user_vring_set_context (p->rx, p->context);
      vhost_user_vring_set_context (p->tx, p->context);
    }
  else
    p->context = g_main_context_ref (vhost_user_backend_get_main_context (net->backend));

  if (mode == MODE_TAP)
    {
      p->tap = tap_open (tap_name, num_pairs > 1, error);
      if (p->tap < 0)
        {
          pair_free (p);
          return NULL;
        }
      p->tap_source = g_source_new (&tap_funcs, sizeof (GSource));
      g_source_set_static_name (p->tap_source, "net tap");
      g_source_set_callback (p->tap_source, on_tap_readable, p, NULL);
      p->tap_tag = g_source_add_unix_fd (p->tap_source, p->tap, G_IO_IN);
      g_source_attach (p->tap_source, p->context);
    }
  vhost_user_vring_set_poll_window (p->rx, poll_us);
  vhost_user_vring_set_poll_window (p->tx, poll_us);
  vhost_user_vring_set_kick_handler (p->rx, on_rx_kick, p, NULL);
  vhost_user_vring_set_kick_handler (p->tx, on_tx_kick, p, NULL);
  return p;
}

/* --- the device --- */

static void
net_free (Net *net)
{
  g_ptr_array_unref (net->pairs);
  g_free (net);
}

static void
on_acked_features (VhostUserBackend *backend,
                   GParamSpec       *pspec,
                   Net              *net)
{
  guint64 features = vhost_user_backend_get_acked_features (backend);
  gboolean version_1 = (features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_VERSION_1)) != 0;
  gboolean merged = (features & VHOST_USER_FEATURE (VIRTIO_NET_F_MRG_RXBUF)) != 0;

  /* the header has num_buffers with either (virtio 1.2, 5.1.6) */
  g_atomic_int_set (&net->hdr_len, version_1 || merged ? 12 : 10);
  g_atomic_int_set (&net->merged, merged);
  for (guint i = 0; i < net->pairs->len; i++)
    tap_configure (g_ptr_array_index (net->pairs, i), features);
  if (verbose)
    g_print ("net: features 0x%" G_GINT64_MODIFIER "x: %u-byte header%s%s%s%s\n", features,
             g_atomic_int_get (&net->hdr_len), merged ? ", merged rx buffers" : "",
             features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED) ? ", packed" : "",
             features & VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_EVENT_IDX) ? ", event idx" : "",
             features & VHOST_USER_FEATURE (VIRTIO_NET_F_MQ) ? ", mq" : "");
}

/* A gratuitous RARP for @mac, as a switch expects from a guest that just
 * moved: the front-end asks after a migration (SEND_RARP). */
static void
announce (Net          *net,
          const guint8 *who)
{
  guint8 frame[HDR_MAX + 60] = { 0 };
  guint8 *f = frame + HDR_MAX;
  static const guint8 rarp[] = {
    0x80, 0x35,              /* ethertype RARP */
    0x00, 0x01, 0x08, 0x00,  /* Ethernet, IPv4 */
    6, 4, 0x00, 0x03,        /* sizes; reverse request */
  };
  int hdr_len = g_atomic_int_get (&net->hdr_len);
  Pair *p = net->pairs->len > 0 ? g_ptr_array_index (net->pairs, 0) : NULL;

  memset (f, 0xff, 6);
  memcpy (f + 6, who, 6);
  memcpy (f + 12, rarp, sizeof rarp);
  memcpy (f + 22, who, 6);
  memcpy (f + 32, who, 6);
  g_print ("net: announcing %02x:%02x:%02x:%02x:%02x:%02x\n", who[0], who[1], who[2], who[3], who[4], who[5]);
  if (mode == MODE_TAP && p != NULL)
    {
      /* an all-zero virtio-net header: no offload */
      if (write (p->tap, frame + HDR_MAX - hdr_len, hdr_len + 60) < 0)
        g_printerr ("net: tap %s: %s\n", tap_name, g_strerror (errno));
    }
}

static gboolean
on_send_rarp (VhostUserBackend    *backend,
              VhostUserInvocation *invocation,
              guint64              value,
              Net                 *net)
{
  guint8 who[6];

  /* the MAC's six bytes, in order, at the start of the u64 */
  for (guint i = 0; i < 6; i++)
    who[i] = (value >> (8 * i)) & 0xff;
  announce (net, who);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static gboolean
on_net_set_mtu (VhostUserBackend    *backend,
                VhostUserInvocation *invocation,
                guint64              value,
                Net                 *net)
{
  if (value < 68 || value > 65535)
    {
      vhost_user_invocation_return_error_literal (invocation, VHOST_USER_ERROR, VHOST_USER_ERROR_INVALID_PARAM,
                                                  "An MTU of 68 to 65535 bytes, please");
      return TRUE;
    }
  g_print ("net: MTU %" G_GUINT64_FORMAT "\n", value);
  vhost_user_invocation_return_ack (invocation);
  return TRUE;
}

static void
on_disconnected (VhostUserBackend *backend,
                 const GError     *error,
                 gboolean          should_reconnect,
                 gpointer          user_data)
{
  g_print ("disconnected: %s\n", error->message);
  if (once || connect_mode)
    g_main_loop_quit (loop);
}

static void
on_backend_finalized (gpointer  data,
                      GObject  *where_the_object_was)
{
  Net *net = data;

  print_stats ();
  g_ptr_array_remove (nets, net);
}

/* The offer, the config space, and a queue pair per pair of rings. */
static gboolean
setup_backend (VhostUserBackend  *backend,
               GError           **error)
{
  guint64 features = VHOST_USER_FEATURE (VIRTIO_NET_F_MAC) | VHOST_USER_FEATURE (VIRTIO_NET_F_MTU) |
                     VHOST_USER_FEATURE (VIRTIO_NET_F_STATUS) | VHOST_USER_FEATURE (VIRTIO_NET_F_MRG_RXBUF) |
                     VHOST_USER_FEATURE (VIRTIO_NET_F_CTRL_VQ) | VHOST_USER_FEATURE (VIRTIO_NET_F_GUEST_ANNOUNCE) |
                     VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_INDIRECT_DESC) |
                     VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_EVENT_IDX) |
                     VHOST_USER_FEATURE (VHOST_USER_VIRTIO_FEATURE_BIT_RING_PACKED);
  g_autoptr(GBytes) config = NULL;
  guint8 space[12];
  Net *net;

  if (num_pairs > 1)
    features |= VHOST_USER_FEATURE (VIRTIO_NET_F_MQ);
  /* a tap takes and gives checksum-offloaded and segmented packets */
  if (mode == MODE_TAP)
    features |= VHOST_USER_FEATURE (VIRTIO_NET_F_CSUM) | VHOST_USER_FEATURE (VIRTIO_NET_F_GUEST_CSUM) |
                VHOST_USER_FEATURE (VIRTIO_NET_F_GUEST_TSO4) | VHOST_USER_FEATURE (VIRTIO_NET_F_GUEST_TSO6) |
                VHOST_USER_FEATURE (VIRTIO_NET_F_GUEST_ECN) | VHOST_USER_FEATURE (VIRTIO_NET_F_HOST_TSO4) |
                VHOST_USER_FEATURE (VIRTIO_NET_F_HOST_TSO6) | VHOST_USER_FEATURE (VIRTIO_NET_F_HOST_ECN);
  vhost_user_backend_set_features (backend, vhost_user_backend_get_features (backend) | features);
  vhost_user_backend_set_protocol_features (backend, vhost_user_backend_get_protocol_features (backend) |
                                                     VHOST_USER_PROTOCOL_FEATURE_MQ |
                                                     VHOST_USER_PROTOCOL_FEATURE_RARP |
                                                     VHOST_USER_PROTOCOL_FEATURE_MTU);
  /* mac, status, max_virtqueue_pairs, mtu (virtio 1.2, 5.1.4) */
  memcpy (space, mac, 6);
  space[6] = VIRTIO_NET_S_LINK_UP;
  space[7] = 0;
  space[8] = num_pairs & 0xff;
  space[9] = num_pairs >> 8;
  space[10] = mtu & 0xff;
  space[11] = mtu >> 8;
  config = g_bytes_new (space, sizeof space);
  vhost_user_backend_set_config (backend, config);
  vhost_user_backend_set_num_queues (backend, 2 * num_pairs);

  net = g_new0 (Net, 1);
  net->backend = backend;
  net->hdr_len = 12;
  net->pairs = g_ptr_array_new_with_free_func ((GDestroyNotify) pair_free);
  for (gint i = 0; i < num_pairs; i++)
    {
      Pair *p = pair_new (net, i, error);

      if (p == NULL)
        {
          net_free (net);
          return FALSE;
        }
      g_ptr_array_add (net->pairs, p);
    }
  g_object_set_data_full (G_OBJECT (backend), "vhost-user-net", net, (GDestroyNotify) net_free);
  g_object_weak_ref (G_OBJECT (backend), on_backend_finalized, net);
  g_ptr_array_add (nets, net);
  g_signal_connect (backend, "notify::acked-features", G_CALLBACK (on_acked_features), net);
  g_signal_connect (backend, "send-rarp", G_CALLBACK (on_send_rarp), net);
  g_signal_connect (backend, "net-set-mtu", G_CALLBACK (on_net_set_mtu), net);
  g_signal_connect (backend, "disconnected", G_CALLBACK (on_disconnected), NULL);
  return TRUE;
}

static void
on_backend_added (VhostUserServer  *server,
                  VhostUserBackend *backend,
                  gpointer          user_data)
{
  g_autoptr(GError) error = NULL;

  g_print ("connected: a front-end\n");
  if (!setup_backend (backend, &error))
    {
      g_printerr ("vhost-user-net: %s (refusing this front-end)\n", error->message);
      vhost_user_backend_close (backend);
    }
}

static gboolean
on_stats (gpointer user_data)
{
  print_stats ();
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer user_data)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static gboolean
parse_mac (const char *s)
{
  guint v[6];

  if (sscanf (s, "%2x:%2x:%2x:%2x:%2x:%2x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
    return FALSE;
  for (guint i = 0; i < 6; i++)
    mac[i] = v[i];
  return TRUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserServer) server = NULL;
  g_autoptr(VhostUserBackend) backend = NULL;

  options = g_option_context_new ("- a vhost-user-net back-end");
  g_option_context_set_summary (options,
    "Serves a virtio-net device over vhost-user: QEMU's -netdev vhost-user with\n"
    "-device virtio-net-pci, or DPDK's virtio_user, drive it. Queue pair i is\n"
    "receive queue 2i and transmit queue 2i+1.\n"
    "\n"
    "What the driver transmits goes to a tap interface (--tap, with checksum and\n"
    "segmentation offloads), back to the driver (--loopback), or nowhere (--sink).\n"
    "On exit, and every --stats seconds, one line per queue pair: packets, bytes\n"
    "and drops each way.");
  g_option_context_add_main_entries (options, entries, NULL);
  example_access_add_options (options);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return EXIT_FAILURE;
    }
  if ((tap_name != NULL) + loopback + sink == 1)
    mode = tap_name != NULL ? MODE_TAP : loopback ? MODE_LOOPBACK : MODE_SINK;
  if (socket_path == NULL || mode == MODE_NONE || num_pairs < 1 || num_pairs > 128 || mtu < 68 || mtu > 65535 ||
      poll_us < 0 || stats_secs < 0 || (mac_string != NULL && !parse_mac (mac_string)))
    {
      g_printerr ("vhost-user-net: --socket and one of --tap, --loopback or --sink are required; queues (1-128), "
                  "MTU (68-65535) and MAC (xx:xx:xx:xx:xx:xx) must make sense\n");
      return EXIT_FAILURE;
    }

  setvbuf (stdout, NULL, _IOLBF, 0);
  loop = g_main_loop_new (NULL, FALSE);
  nets = g_ptr_array_new ();
  g_unix_signal_add (SIGINT, on_signal, NULL);
  g_unix_signal_add (SIGTERM, on_signal, NULL);
  if (stats_secs > 0)
    g_timeout_add_seconds (stats_secs, on_stats, NULL);

  if (connect_mode)
    {
      backend = vhost_user_backend_new ();
      if (!setup_backend (backend, &error) ||
          !vhost_user_backend_connect_to_path (backend, socket_path, 30000, NULL, &error))
        {
          g_printerr ("vhost-user-net: %s\n", error->message);
          return EXIT_FAILURE;
        }
      g_print ("connected: to %s\n", socket_path);
    }
  else
    {
      server = vhost_user_server_new (VHOST_USER_TYPE_BACKEND, FALSE);
      g_signal_connect (server, "backend-added", G_CALLBACK (on_backend_added), NULL);
      if (!example_access_apply (server, &error) || !vhost_user_server_listen (server, socket_path, &error))
        {
          g_printerr ("vhost-user-net: %s\n", error->message);
          return EXIT_FAILURE;
        }
      g_print ("listening: %s (%d queue pair%s, %s%s%s)\n", socket_path, num_pairs, num_pairs > 1 ? "s" : "",
               mode == MODE_TAP ? "tap " : mode == MODE_LOOPBACK ? "loopback" : "sink",
               mode == MODE_TAP ? tap_name : "", queue_threads ? ", queue threads" : "");
    }

  g_main_loop_run (loop);

  print_stats ();
  {
    struct rusage usage;

    /* what the packets cost, whatever else ran on the machine */
    if (getrusage (RUSAGE_SELF, &usage) == 0)
      g_print ("net: cpu %.3f s (user %.3f, system %.3f)\n",
               usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
               usage.ru_stime.tv_usec / 1e6,
               usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6,
               usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6);
  }
  if (server != NULL)
    vhost_user_server_stop (server);
  if (backend != NULL)
    vhost_user_backend_close (backend);
  g_main_loop_unref (loop);
  return EXIT_SUCCESS;
}
