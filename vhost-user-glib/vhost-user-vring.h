/* vhost-user-vring.h: one virtqueue as the back-end sees it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__VHOST_USER_GLIB_INSIDE__) && !defined(VHOST_USER_GLIB_COMPILATION)
#error "Only <vhost-user-glib.h> can be included directly."
#endif

#include <glib-object.h>

#include "vhost-user-version-macros.h"

G_BEGIN_DECLS

#define VHOST_USER_TYPE_VRING_ADDRESS (vhost_user_vring_address_get_type ())

/**
 * VhostUserVringAddress:
 * @flags: bit 0 (`VHOST_VRING_F_LOG`) asks for used-ring writes to be logged
 * @desc_user_addr: the descriptor table, in the front-end's address space
 * @used_user_addr: the used ring, in the front-end's address space
 * @avail_user_addr: the available ring, in the front-end's address space
 * @log_guest_addr: the guest-physical address used-ring writes are logged at
 *
 * Where a ring lives, as `SET_VRING_ADDR` gives it.
 *
 * Since: 1.0
 */
typedef struct {
  guint   flags;
  guint64 desc_user_addr;
  guint64 used_user_addr;
  guint64 avail_user_addr;
  guint64 log_guest_addr;
} VhostUserVringAddress;

VHOST_USER_AVAILABLE_IN_ALL
GType                  vhost_user_vring_address_get_type (void) G_GNUC_CONST;
VHOST_USER_AVAILABLE_IN_ALL
VhostUserVringAddress *vhost_user_vring_address_copy     (const VhostUserVringAddress *address);
VHOST_USER_AVAILABLE_IN_ALL
void                   vhost_user_vring_address_free     (VhostUserVringAddress       *address);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VhostUserVringAddress, vhost_user_vring_address_free)

/**
 * VHOST_USER_VRING_MAX_IOV:
 *
 * How many pieces each direction of a [struct@VhostUser.VringElement] holds:
 * a descriptor split across memory regions takes one per region.
 *
 * Since: 1.0
 */
#define VHOST_USER_VRING_MAX_IOV 256

/**
 * VHOST_USER_VRING_MAX_UNPOP:
 *
 * How many of the requests popped last vhost_user_vring_unpop() can hand
 * back: enough for a 64 KiB packet in merged receive buffers of 1 KiB.
 *
 * Since: 1.0
 */
#define VHOST_USER_VRING_MAX_UNPOP 64

/**
 * VHOST_USER_VRING_DEFAULT_BUDGET:
 *
 * How many requests a run of a ring's kick handler pops at most unless
 * vhost_user_vring_set_budget() says otherwise.
 *
 * Since: 1.0
 */
#define VHOST_USER_VRING_DEFAULT_BUDGET 256

/**
 * VhostUserVringBuffer:
 * @base: where the piece is mapped in this process
 * @len: its length in bytes
 *
 * One contiguous piece of a request's buffers.
 *
 * Since: 1.0
 */
typedef struct {
  gpointer base;
  gsize    len;
} VhostUserVringBuffer;

/**
 * VhostUserVringElement:
 * @head: the chain's head descriptor (packed rings: its buffer id), to hand
 *   back with vhost_user_vring_push()
 * @n_out: how many pieces of @out are used
 * @n_in: how many pieces of @in are used
 * @out_len: the bytes the driver gave to read
 * @in_len: the bytes the driver gave to write
 * @out: the device-readable buffers, mapped
 * @in: the device-writable buffers, mapped
 *
 * One request taken off a ring: its buffers, in this process, in the
 * order the driver chained them. It lives where the caller puts it (on the
 * stack, in a pool): popping never allocates.
 *
 * Since: 1.0
 */
typedef struct {
  guint        head;
  guint        n_out;
  guint        n_in;
  gsize        out_len;
  gsize        in_len;
  VhostUserVringBuffer out[VHOST_USER_VRING_MAX_IOV];
  VhostUserVringBuffer in[VHOST_USER_VRING_MAX_IOV];
} VhostUserVringElement;

VHOST_USER_AVAILABLE_IN_ALL
gsize   vhost_user_vring_element_copy_out (const VhostUserVringElement *element,
                                           gsize                        offset,
                                           guint8                      *dest,
                                           gsize                        len);
VHOST_USER_AVAILABLE_IN_ALL
GBytes *vhost_user_vring_element_read  (const VhostUserVringElement *element,
                                        gsize                        offset,
                                        gsize                        len);
VHOST_USER_AVAILABLE_IN_ALL
gsize   vhost_user_vring_element_write (VhostUserVringElement       *element,
                                        gsize                        offset,
                                        const guint8                *data,
                                        gsize                        len);



#define VHOST_USER_TYPE_VRING (vhost_user_vring_get_type ())

VHOST_USER_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VhostUserVring, vhost_user_vring, VHOST_USER, VRING, GObject)

/**
 * VhostUserVringKickFunc:
 * @vring: the ring that was kicked
 * @user_data: the handler's data
 *
 * Called in the ring's context when the driver kicked it (once per kick,
 * not per buffer: pop until the ring is empty), and once when the ring
 * starts, since a front-end need not kick then.
 *
 * Since: 1.0
 */
typedef void (*VhostUserVringKickFunc) (VhostUserVring *vring,
                                        gpointer        user_data);


VHOST_USER_AVAILABLE_IN_ALL
guint                        vhost_user_vring_get_index    (VhostUserVring *self);
VHOST_USER_AVAILABLE_IN_ALL
guint                        vhost_user_vring_get_size     (VhostUserVring *self);
VHOST_USER_AVAILABLE_IN_ALL
guint                        vhost_user_vring_get_base     (VhostUserVring *self);
VHOST_USER_AVAILABLE_IN_ALL
void                         vhost_user_vring_set_base     (VhostUserVring *self,
                                                            guint           base);
VHOST_USER_AVAILABLE_IN_ALL
const VhostUserVringAddress *vhost_user_vring_get_address  (VhostUserVring *self);
VHOST_USER_AVAILABLE_IN_ALL
gboolean                     vhost_user_vring_get_enabled  (VhostUserVring *self);
VHOST_USER_AVAILABLE_IN_ALL
gboolean                     vhost_user_vring_get_started  (VhostUserVring *self);
VHOST_USER_AVAILABLE_IN_ALL
int                          vhost_user_vring_get_kick_fd  (VhostUserVring *self);
VHOST_USER_AVAILABLE_IN_ALL
int                          vhost_user_vring_get_call_fd  (VhostUserVring *self);
VHOST_USER_AVAILABLE_IN_ALL
int                          vhost_user_vring_get_err_fd   (VhostUserVring *self);
VHOST_USER_AVAILABLE_IN_ALL
guint                        vhost_user_vring_get_in_flight (VhostUserVring *self);
VHOST_USER_AVAILABLE_IN_ALL
void                         vhost_user_vring_set_context  (VhostUserVring *self,
                                                            GMainContext   *context);
VHOST_USER_AVAILABLE_IN_ALL
GMainContext                *vhost_user_vring_get_context  (VhostUserVring *self);
VHOST_USER_AVAILABLE_IN_ALL
gboolean                     vhost_user_vring_call         (VhostUserVring *self,
                                                            GError        **error);
VHOST_USER_AVAILABLE_IN_ALL
void                         vhost_user_vring_set_poll_window (VhostUserVring        *self,
                                                               guint                  usecs);
VHOST_USER_AVAILABLE_IN_ALL
guint                        vhost_user_vring_get_poll_window (VhostUserVring        *self);
VHOST_USER_AVAILABLE_IN_ALL
guint                        vhost_user_vring_get_current_poll_window (VhostUserVring *self);
VHOST_USER_AVAILABLE_IN_ALL
void                         vhost_user_vring_set_budget      (VhostUserVring        *self,
                                                               guint                  max_requests);
VHOST_USER_AVAILABLE_IN_ALL
guint                        vhost_user_vring_get_budget      (VhostUserVring        *self);
VHOST_USER_AVAILABLE_IN_ALL
void                         vhost_user_vring_set_kick_handler (VhostUserVring        *self,
                                                            VhostUserVringKickFunc func,
                                                            gpointer               user_data,
                                                            GDestroyNotify         notify);
VHOST_USER_AVAILABLE_IN_ALL
gboolean                     vhost_user_vring_pop          (VhostUserVring        *self,
                                                            VhostUserVringElement *element,
                                                            GError               **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean                     vhost_user_vring_pop_batch    (VhostUserVring        *self,
                                                            VhostUserVringElement *elements,
                                                            guint                  n,
                                                            guint                 *n_popped,
                                                            GError               **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean                     vhost_user_vring_unpop        (VhostUserVring        *self,
                                                            guint                  head,
                                                            GError               **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean                     vhost_user_vring_receive      (VhostUserVring        *self,
                                                            VhostUserVringElement *scratch,
                                                            guint                  n_scratch,
                                                            const guint8          *header,
                                                            gsize                  header_len,
                                                            gssize                 num_buffers_offset,
                                                            const guint8          *data,
                                                            gsize                  len,
                                                            guint                 *n_used,
                                                            GError               **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean                     vhost_user_vring_push         (VhostUserVring        *self,
                                                            guint                  head,
                                                            guint                  len,
                                                            GError               **error);
VHOST_USER_AVAILABLE_IN_ALL
gboolean                     vhost_user_vring_push_batch   (VhostUserVring        *self,
                                                            const guint           *heads,
                                                            const guint           *lens,
                                                            guint                  n,
                                                            GError               **error);

G_END_DECLS
