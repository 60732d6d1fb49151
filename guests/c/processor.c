// world: storage-processor
/*
 * c-processor: the processor world in C, through kits/c (logging, storage, process), plus wasi:filesystem
 * through the preview1 adapter. The text commands are in commands.h.
 */
#include "commands.h"

static bool process(airssys_bytes input, airssys_bytes *output) {
  char *command = airssys_bytes_cstr(input);
  bool ok = run_command(command, output);
  free(command);
  return ok;
}

AIRSSYS_PROCESSOR(process)
