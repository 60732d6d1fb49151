// word-count.c: a plugin for the storage-processor world, written with kits/c/airssys.h. It counts the
// words of its input, keeps a running total in host storage and logs each call.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airssys.h"

static bool process(airssys_bytes input, airssys_bytes *output) {
  unsigned long words = 0;
  bool in_word = false;
  for (size_t i = 0; i < input.len; i++) {
    bool space = input.ptr[i] == ' ' || input.ptr[i] == '\n' || input.ptr[i] == '\t';
    if (!space && !in_word) words++;
    in_word = !space;
  }

  // The running total lives in host storage, in the namespace the host granted ("word-count").
  bool found;
  airssys_bytes stored;
  if (!airssys_storage_get("word-count", "total", &found, &stored)) {
    *output = stored; // the host's refusal becomes our err
    return false;
  }
  unsigned long total = words;
  if (found) {
    char *text = airssys_bytes_cstr(stored);
    total += strtoul(text, NULL, 10);
    free(text);
    airssys_bytes_free(&stored);
  }
  char text[64];
  snprintf(text, sizeof text, "%lu", total);
  airssys_bytes error;
  if (!airssys_storage_set("word-count", "total", (airssys_bytes){(uint8_t *)text, strlen(text)}, &error)) {
    *output = error;
    return false;
  }

  snprintf(text, sizeof text, "%lu words, %lu in total", words, total);
  airssys_log(AIRSSYS_INFO, text);
  *output = airssys_bytes_str(text);
  return true;
}

AIRSSYS_PROCESSOR(process)
