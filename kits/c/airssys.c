/*
 * airssys.c: the canonical-ABI side of airssys.h. Lowering follows the component model's rules for
 * wit/airssys.wit: strings and lists are (pointer, length) pairs, a result with a payload comes back
 * through a return area (u8 discriminant at 0, payload from offset 4), and the host allocates what it
 * hands us with cabi_realloc (so it is ours to free).
 */
#include "airssys.h"

#include <stdlib.h>
#include <string.h>

#define IMPORT(iface, fn) __attribute__((import_module("airssys:component/" iface "@0.1.0"), import_name(fn)))

IMPORT("logging", "log") extern void airssys_import_log(int32_t level, const char *ptr, size_t len);
IMPORT("messaging", "send") extern void airssys_import_send(const char *, size_t, uint8_t *, size_t, uint8_t *ret);
IMPORT("messaging", "request")
extern void airssys_import_request(const char *, size_t, uint8_t *, size_t, uint32_t timeout, uint8_t *ret);
IMPORT("messaging", "publish") extern void airssys_import_publish(const char *, size_t, uint8_t *, size_t, uint8_t *ret);
IMPORT("messaging", "subscribe") extern void airssys_import_subscribe(const char *, size_t, uint8_t *ret);
IMPORT("storage", "get") extern void airssys_import_get(const char *, size_t, const char *, size_t, uint8_t *ret);
IMPORT("storage", "set")
extern void airssys_import_set(const char *, size_t, const char *, size_t, uint8_t *, size_t, uint8_t *ret);
IMPORT("storage", "delete") extern void airssys_import_delete(const char *, size_t, const char *, size_t, uint8_t *ret);
IMPORT("storage", "list-keys") extern void airssys_import_list_keys(const char *, size_t, uint8_t *ret);

/* The host allocates arguments and results in our memory through this. */
__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *old, size_t old_size, size_t align, size_t size) {
  (void)old_size;
  (void)align; /* malloc's alignment (16) covers every WIT type */
  /* NULL for empty lists and strings: aligned, in bounds, and safe to free. */
  if (size == 0) {
    free(old);
    return NULL;
  }
  void *moved = realloc(old, size);
  if (moved == NULL) abort();
  return moved;
}

airssys_bytes airssys_bytes_copy(const void *ptr, size_t len) {
  airssys_bytes bytes = {malloc(len > 0 ? len : 1), len};
  if (len > 0) memcpy(bytes.ptr, ptr, len);
  return bytes;
}

airssys_bytes airssys_bytes_str(const char *text) { return airssys_bytes_copy(text, strlen(text)); }

void airssys_bytes_free(airssys_bytes *bytes) {
  free(bytes->ptr);
  bytes->ptr = NULL;
  bytes->len = 0;
}

char *airssys_bytes_cstr(airssys_bytes bytes) {
  char *text = malloc(bytes.len + 1);
  memcpy(text, bytes.ptr, bytes.len);
  text[bytes.len] = 0;
  return text;
}

/* A return area: results are at most 16 bytes with 4-byte alignment. */
typedef struct {
  _Alignas(8) uint8_t bytes[16];
} area;

static uint32_t u32_at(const area *a, size_t offset) {
  uint32_t value;
  memcpy(&value, a->bytes + offset, 4);
  return value;
}

static airssys_bytes bytes_at(const area *a, size_t offset) {
  return (airssys_bytes){(uint8_t *)(uintptr_t)u32_at(a, offset), u32_at(a, offset + 4)};
}

static void put_bytes(uint8_t *a, size_t offset, airssys_bytes bytes) {
  uint32_t ptr = (uint32_t)(uintptr_t)bytes.ptr, len = (uint32_t)bytes.len;
  memcpy(a + offset, &ptr, 4);
  memcpy(a + offset + 4, &len, 4);
}

/* result<_, string>: ok, or the error's bytes. */
static bool unit_result(const area *a, airssys_bytes *error) {
  if (a->bytes[0] == 0) return true;
  if (error != NULL) *error = bytes_at(a, 4);
  return false;
}

void airssys_log(airssys_level level, const char *text) { airssys_import_log(level, text, strlen(text)); }

bool airssys_send(const char *target, airssys_bytes payload, airssys_bytes *error) {
  area a;
  airssys_import_send(target, strlen(target), payload.ptr, payload.len, a.bytes);
  return unit_result(&a, error);
}

bool airssys_request(const char *target, airssys_bytes payload, uint32_t timeout_ms, airssys_bytes *reply_or_error) {
  area a;
  airssys_import_request(target, strlen(target), payload.ptr, payload.len, timeout_ms, a.bytes);
  *reply_or_error = bytes_at(&a, 4);
  return a.bytes[0] == 0;
}

bool airssys_publish(const char *topic, airssys_bytes payload, airssys_bytes *error) {
  area a;
  airssys_import_publish(topic, strlen(topic), payload.ptr, payload.len, a.bytes);
  return unit_result(&a, error);
}

bool airssys_subscribe(const char *topic, airssys_bytes *error) {
  area a;
  airssys_import_subscribe(topic, strlen(topic), a.bytes);
  return unit_result(&a, error);
}

bool airssys_storage_get(const char *ns, const char *key, bool *found, airssys_bytes *value_or_error) {
  area a;
  airssys_import_get(ns, strlen(ns), key, strlen(key), a.bytes);
  if (a.bytes[0] != 0) {
    *value_or_error = bytes_at(&a, 4);
    return false;
  }
  /* ok(option<list<u8>>): the option's discriminant at 4, the list at 8. */
  *found = a.bytes[4] != 0;
  *value_or_error = *found ? bytes_at(&a, 8) : (airssys_bytes){NULL, 0};
  return true;
}

bool airssys_storage_set(const char *ns, const char *key, airssys_bytes value, airssys_bytes *error) {
  area a;
  airssys_import_set(ns, strlen(ns), key, strlen(key), value.ptr, value.len, a.bytes);
  return unit_result(&a, error);
}

bool airssys_storage_delete(const char *ns, const char *key, airssys_bytes *error) {
  area a;
  airssys_import_delete(ns, strlen(ns), key, strlen(key), a.bytes);
  return unit_result(&a, error);
}

bool airssys_storage_list_keys(const char *ns, airssys_bytes **keys, size_t *count, airssys_bytes *error) {
  area a;
  airssys_import_list_keys(ns, strlen(ns), a.bytes);
  if (a.bytes[0] != 0) {
    *error = bytes_at(&a, 4);
    return false;
  }
  /* A list of strings: (pointer, length) pairs laid out like airssys_bytes on wasm32. */
  airssys_bytes list = bytes_at(&a, 4);
  *keys = (airssys_bytes *)list.ptr;
  *count = list.len;
  return true;
}

/* One return area per export: a component instance runs one call at a time. */
static area export_area;

uint8_t *airssys__process(airssys_process_fn fn, uint8_t *ptr, size_t len) {
  airssys_bytes input = {ptr, len}, output = {NULL, 0};
  bool ok = fn(input, &output);
  free(ptr);
  export_area.bytes[0] = ok ? 0 : 1;
  put_bytes(export_area.bytes, 4, output);
  return export_area.bytes;
}

void airssys__post_process(uint8_t *a) { free((void *)(uintptr_t)u32_at((area *)a, 4)); }

uint8_t *airssys__handle(airssys_handle_fn fn, uint8_t *sender, size_t sender_len, int32_t has_topic, uint8_t *topic,
                         size_t topic_len, int32_t has_id, int64_t id, uint8_t *payload, size_t payload_len) {
  airssys_message message = {
      .sender = {sender, sender_len},
      .has_topic = has_topic != 0,
      .topic = {has_topic ? topic : NULL, has_topic ? topic_len : 0},
      .has_correlation_id = has_id != 0,
      .correlation_id = (uint64_t)id,
      .payload = {payload, payload_len},
  };
  airssys_bytes reply = {NULL, 0};
  bool ok = fn(&message, &reply);
  free(message.sender.ptr);
  free(message.topic.ptr);
  free(message.payload.ptr);
  memset(export_area.bytes, 0, sizeof export_area.bytes);
  if (!ok) {
    export_area.bytes[0] = 1;
    put_bytes(export_area.bytes, 4, reply);
  } else if (reply.ptr != NULL) {
    export_area.bytes[4] = 1; /* some(reply) */
    put_bytes(export_area.bytes, 8, reply);
  }
  return export_area.bytes;
}

void airssys__post_handle(uint8_t *a) {
  area *r = (area *)a;
  if (r->bytes[0] != 0) free((void *)(uintptr_t)u32_at(r, 4));
  else if (r->bytes[4] != 0) free((void *)(uintptr_t)u32_at(r, 8));
}
