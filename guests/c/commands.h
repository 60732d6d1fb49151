/*
 * The text commands every language's processor and actor guest understands (guests/README.md), for the C
 * guests. Included by processor.c and actor.c; not a guest itself (no world header).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airssys.h"

static bool fail(airssys_bytes *output, const char *message) {
  *output = airssys_bytes_str(message);
  return false;
}

/* The next space-separated word of *rest (NUL-terminated in place); the remainder stays in *rest. */
static char *word(char **rest) {
  char *start = *rest, *space = strchr(start, ' ');
  if (space != NULL) {
    *space = 0;
    *rest = space + 1;
  } else {
    *rest = start + strlen(start);
  }
  return start;
}

static volatile unsigned spins;

static bool run_command(char *command, airssys_bytes *output) {
  char *rest = command;
  char *op = word(&rest);
  if (strcmp(op, "echo") == 0) {
    *output = airssys_bytes_str(rest);
    return true;
  }
  if (strcmp(op, "err") == 0) return fail(output, rest);
  if (strcmp(op, "trap") == 0) __builtin_trap();
  if (strcmp(op, "exit") == 0) exit(atoi(rest));
  if (strcmp(op, "loop") == 0) for (;;) spins++;
  if (strcmp(op, "alloc") == 0) {
    /* Touches every page, so a refused memory.grow is the only way out. */
    size_t bytes = (size_t)atoi(rest) << 20;
    char *block = malloc(bytes);
    if (block == NULL) return fail(output, "out of memory");
    /* Volatile writes: otherwise the compiler drops an allocation nobody reads. */
    for (size_t at = 0; at < bytes; at += 4096) ((volatile char *)block)[at] = 1;
    free(block);
    *output = airssys_bytes_str("allocated");
    return true;
  }
  if (strcmp(op, "log") == 0) {
    airssys_log(AIRSSYS_INFO, rest);
    *output = airssys_bytes_str("logged");
    return true;
  }
  if (strcmp(op, "set") == 0) {
    char *ns = word(&rest), *key = word(&rest);
    airssys_bytes error;
    if (!airssys_storage_set(ns, key, (airssys_bytes){(uint8_t *)rest, strlen(rest)}, &error)) {
      *output = error;
      return false;
    }
    *output = airssys_bytes_str("stored");
    return true;
  }
  if (strcmp(op, "get") == 0) {
    char *ns = word(&rest), *key = word(&rest);
    bool found;
    airssys_bytes value;
    if (!airssys_storage_get(ns, key, &found, &value)) {
      *output = value;
      return false;
    }
    *output = found ? value : airssys_bytes_str("(none)");
    return true;
  }
  if (strcmp(op, "read") == 0) {
    FILE *file = fopen(rest, "r");
    if (file == NULL) return fail(output, strerror(errno));
    char buffer[4096];
    size_t n = fread(buffer, 1, sizeof buffer, file);
    fclose(file);
    *output = airssys_bytes_copy(buffer, n);
    return true;
  }
  if (strcmp(op, "write") == 0) {
    char *path = word(&rest);
    FILE *file = fopen(path, "w");
    if (file == NULL) return fail(output, strerror(errno));
    fputs(rest, file);
    fclose(file);
    *output = airssys_bytes_str("written");
    return true;
  }
  return fail(output, "unknown command");
}
