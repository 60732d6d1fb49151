// world: storage-actor
/*
 * c-actor: the actor world in C, through kits/c (logging, messaging, storage, handler), plus
 * wasi:filesystem through the preview1 adapter. A payload is a command of commands.h, or one of
 *   send TARGET TEXT | request TARGET TEXT | publish TOPIC TEXT | subscribe TOPIC
 * answered with some(result). A message that arrives on a topic is logged ("TOPIC: TEXT"), no reply.
 */
#include "commands.h"

static bool messaging(char *op, char *rest, airssys_bytes *reply) {
  char *name = word(&rest);
  airssys_bytes text = {(uint8_t *)rest, strlen(rest)}, error;
  bool ok;
  if (strcmp(op, "request") == 0) return airssys_request(name, text, 1000, reply);
  if (strcmp(op, "send") == 0) ok = airssys_send(name, text, &error);
  else if (strcmp(op, "publish") == 0) ok = airssys_publish(name, text, &error);
  else ok = airssys_subscribe(name, &error);
  *reply = ok ? airssys_bytes_str("done") : error;
  return ok;
}

static bool handle(const airssys_message *message, airssys_bytes *reply) {
  char *command = airssys_bytes_cstr(message->payload);
  bool ok = true;
  if (message->has_topic) {
    char *topic = airssys_bytes_cstr(message->topic);
    char line[512];
    snprintf(line, sizeof line, "%s: %s", topic, command);
    airssys_log(AIRSSYS_INFO, line);
    free(topic);
  } else {
    char *rest = command;
    char *op = word(&rest);
    if (strcmp(op, "send") == 0 || strcmp(op, "request") == 0 || strcmp(op, "publish") == 0 ||
        strcmp(op, "subscribe") == 0) {
      ok = messaging(op, rest, reply);
    } else {
      if (*rest != 0) rest[-1] = ' '; /* undo word()'s cut: run_command parses the whole line */
      ok = run_command(command, reply);
    }
  }
  free(command);
  return ok;
}

AIRSSYS_ACTOR(handle)
