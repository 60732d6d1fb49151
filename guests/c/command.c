// kind: command
/*
 * c-command: a plain C program, built as a WASI command (wasi:cli/run through the preview1 command
 * adapter). Prints to stdout and stderr; exits with the code in the environment variable EXIT_CODE
 * (0 when it is not set), so a host that grants no environment sees success.
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  printf("c-command: hello from main, %d argument(s)\n", argc);
  fprintf(stderr, "c-command: a line on stderr\n");
  const char *code = getenv("EXIT_CODE");
  return code != NULL ? atoi(code) : 0;
}
