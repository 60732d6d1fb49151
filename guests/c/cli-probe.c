// kind: command
// A WASI command in C (clang + wasi-libc, made a component with the preview1 command adapter jco
// ships), for the CLI's WASI tests (test/CliWasi.test.ts builds it; it is not a hosted guest):
//   prints "argc N" and each argument, then each environment variable, in pieces (printf per word);
//   polls stdin and stdout with no timeout and prints what poll answered;
//   reads stdin to its end and prints how many bytes came;
//   writes "c stderr\n" to stderr;
//   with the arguments "exit N", exits with N (proc_exit), else returns 0 from main.
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int main(int argc, char **argv) {
  printf("argc %d\n", argc);
  for (int i = 0; i < argc; i++) {
    printf("arg ");
    printf("%d: ", i);
    printf("%s\n", argv[i]);
  }
  for (char **variable = environ; *variable != NULL; variable++) printf("env %s\n", *variable);
  struct pollfd fds[2] = {{.fd = 0, .events = POLLIN}, {.fd = 1, .events = POLLOUT}};
  int ready = poll(fds, 2, 0);
  printf("poll %d stdin %s stdout %s\n", ready, (fds[0].revents & POLLIN) ? "readable" : "-",
         (fds[1].revents & POLLOUT) ? "writable" : "-");
  char buffer[256];
  size_t total = 0, n;
  while ((n = fread(buffer, 1, sizeof buffer, stdin)) > 0) total += n;
  printf("stdin %zu bytes\n", total);
  fflush(stdout);
  fprintf(stderr, "c stderr\n");
  if (argc == 3 && strcmp(argv[1], "exit") == 0) exit(atoi(argv[2]));
  return 0;
}
