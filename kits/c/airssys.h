/*
 * airssys.h: write an airssys-wasm guest in C.
 *
 * The kit speaks the component model's canonical ABI for the worlds of wit/airssys.wit, so a plugin is
 * plain C: implement one function, name it with AIRSSYS_PROCESSOR(fn) or AIRSSYS_ACTOR(fn), and call
 * the host through airssys_log / airssys_send / airssys_storage_* ... Files, clocks, stdout and exit are
 * ordinary wasi-libc (fopen, printf, exit), reached through the WASI preview1 adapter.
 *
 * Build (Debian: apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32):
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -I kits/c plugin.c kits/c/airssys.c -o plugin.core.wasm
 * then make a component for the world, with jco (see docs/how-to/write-a-guest-in-c.md):
 *   componentEmbed({ binary, witSource, world }) -> componentNew(embedded, [["wasi_snapshot_preview1", reactorAdapter]])
 *
 * Memory: every airssys_bytes the kit hands you is malloc'd and yours to free (airssys_bytes_free).
 * What you return from your export must be malloc'd too (airssys_bytes_copy / airssys_bytes_str); the kit
 * frees it after the host has copied it.
 */
#ifndef AIRSSYS_H
#define AIRSSYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Bytes (or UTF-8 text, not NUL-terminated) owned by whoever holds them. */
typedef struct {
  uint8_t *ptr;
  size_t len;
} airssys_bytes;

/** The logging interface's levels. */
typedef enum { AIRSSYS_TRACE, AIRSSYS_DEBUG, AIRSSYS_INFO, AIRSSYS_WARN, AIRSSYS_ERROR } airssys_level;

/** A message delivered to an actor (the WIT record `types.message`). */
typedef struct {
  airssys_bytes sender;
  bool has_topic;
  airssys_bytes topic;
  bool has_correlation_id;
  uint64_t correlation_id;
  airssys_bytes payload;
} airssys_message;

airssys_bytes airssys_bytes_copy(const void *ptr, size_t len);
airssys_bytes airssys_bytes_str(const char *text);
void airssys_bytes_free(airssys_bytes *bytes);
/** A NUL-terminated, malloc'd copy (for printf and friends). */
char *airssys_bytes_cstr(airssys_bytes bytes);

/* ---- host imports. Each returns true for ok; on false, *error holds the host's message. ---- */

void airssys_log(airssys_level level, const char *text);

bool airssys_send(const char *target, airssys_bytes payload, airssys_bytes *error);
/** On true, *reply_or_error is the reply; on false, the error. */
bool airssys_request(const char *target, airssys_bytes payload, uint32_t timeout_ms, airssys_bytes *reply_or_error);
bool airssys_publish(const char *topic, airssys_bytes payload, airssys_bytes *error);
bool airssys_subscribe(const char *topic, airssys_bytes *error);

/** On true, *found says whether the key exists and *value_or_error holds its value; on false, the error. */
bool airssys_storage_get(const char *ns, const char *key, bool *found, airssys_bytes *value_or_error);
bool airssys_storage_set(const char *ns, const char *key, airssys_bytes value, airssys_bytes *error);
bool airssys_storage_delete(const char *ns, const char *key, airssys_bytes *error);
/** On true, *keys is a malloc'd array of *count keys (free each, then the array). */
bool airssys_storage_list_keys(const char *ns, airssys_bytes **keys, size_t *count, airssys_bytes *error);

/* ---- guest exports ---- */

/** processor: return true and set *output for ok(output); return false and set *output to the message for err. */
typedef bool (*airssys_process_fn)(airssys_bytes input, airssys_bytes *output);
/** actor: set *reply (leave ptr NULL for none) and return true; false with *reply the message for err. */
typedef bool (*airssys_handle_fn)(const airssys_message *message, airssys_bytes *reply);

uint8_t *airssys__process(airssys_process_fn fn, uint8_t *ptr, size_t len);
uint8_t *airssys__handle(airssys_handle_fn fn, uint8_t *sender, size_t sender_len, int32_t has_topic, uint8_t *topic,
                         size_t topic_len, int32_t has_id, int64_t id, uint8_t *payload, size_t payload_len);
void airssys__post_process(uint8_t *area);
void airssys__post_handle(uint8_t *area);

/** Exports `process` (world processor, storage-processor, ...) implemented by `fn`. */
#define AIRSSYS_PROCESSOR(fn)                                                                              \
  __attribute__((export_name("process"))) uint8_t *airssys_export_process(uint8_t *ptr, size_t len) {     \
    return airssys__process(fn, ptr, len);                                                                 \
  }                                                                                                        \
  __attribute__((export_name("cabi_post_process"))) void airssys_export_post_process(uint8_t *area) {     \
    airssys__post_process(area);                                                                           \
  }

/** Exports `handler.handle-message` (world actor, storage-actor, ...) implemented by `fn`. */
#define AIRSSYS_ACTOR(fn)                                                                                  \
  __attribute__((export_name("airssys:component/handler@0.1.0#handle-message"))) uint8_t *                \
  airssys_export_handle(uint8_t *s, size_t sl, int32_t ht, uint8_t *t, size_t tl, int32_t hi, int64_t i,   \
                        uint8_t *p, size_t pl) {                                                           \
    return airssys__handle(fn, s, sl, ht, t, tl, hi, i, p, pl);                                            \
  }                                                                                                        \
  __attribute__((export_name("cabi_post_airssys:component/handler@0.1.0#handle-message"))) void            \
  airssys_export_post_handle(uint8_t *area) {                                                              \
    airssys__post_handle(area);                                                                            \
  }

#endif
