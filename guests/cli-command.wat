;; world: cli-command
;; wit: guests/wit/cli-command.wit
;; A WASI 0.2 command (exports only wasi:cli/run, as `jco new --wasi-command` output does) for the CLI
;; and command tests. run: writes each argument and "\n" to stdout one byte per write, then each
;; variable as "NAME=VALUE\n", then stdin as it is; writes "err\ff\00\n" to stderr; then, when the
;; arguments are [_, "exit", N], exit-with-code(N) (N decimal), else returns ok. With the arguments
;; [_, "poll"] it only polls the pollables of stdin and stdout (wasi:io/poll, which may suspend: the
;; component imports the monotonic clock) and writes the ready indices as digits and "\n". With [_, "spin"]
;; it writes "spinning\n" to stderr and loops forever without calling the host (only a signal ends it).
(module
  (import "wasi:cli/environment@0.2.12" "get-environment" (func $get_environment (param i32)))
  (import "wasi:cli/environment@0.2.12" "get-arguments" (func $get_arguments (param i32)))
  (import "wasi:cli/exit@0.2.12" "exit-with-code" (func $exit_with_code (param i32)))
  (import "wasi:cli/stdin@0.2.12" "get-stdin" (func $get_stdin (result i32)))
  (import "wasi:cli/stdout@0.2.12" "get-stdout" (func $get_stdout (result i32)))
  (import "wasi:cli/stderr@0.2.12" "get-stderr" (func $get_stderr (result i32)))
  (import "wasi:io/streams@0.2.12" "[method]output-stream.blocking-write-and-flush" (func $write_and_flush (param i32 i32 i32 i32)))
  (import "wasi:io/streams@0.2.12" "[method]input-stream.blocking-read" (func $blocking_read (param i32 i64 i32)))
  (import "wasi:io/streams@0.2.12" "[method]input-stream.subscribe" (func $subscribe_input (param i32) (result i32)))
  (import "wasi:io/streams@0.2.12" "[method]output-stream.subscribe" (func $subscribe_output (param i32) (result i32)))
  (import "wasi:io/poll@0.2.12" "poll" (func $poll (param i32 i32 i32)))
  (import "wasi:clocks/monotonic-clock@0.2.12" "now" (func $now (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 1056) "exit")
  (data (i32.const 1064) "err\ff\00\n")
  (data (i32.const 1072) "=\n")
  (data (i32.const 1080) "poll")
  (data (i32.const 1088) "spin")
  (data (i32.const 1096) "spinning\n")
  ;; Bump allocator (run is called once).
  (global $heap (mut i32) (i32.const 4096))
  (func $realloc (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $p i32)
    (local.set $p
      (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
        (i32.xor (i32.sub (local.get $align) (i32.const 1)) (i32.const -1))))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (if (i32.eq
              (memory.grow (i32.add (i32.shr_u (i32.sub (global.get $heap) (i32.mul (memory.size) (i32.const 65536))) (i32.const 16)) (i32.const 1)))
              (i32.const -1))
          (then unreachable))))
    (local.get $p))
  ;; One blocking-write-and-flush; result<_, stream-error> at 64. Returns 1 on error.
  (func $write (param $stream i32) (param $ptr i32) (param $len i32) (result i32)
    (call $write_and_flush (local.get $stream) (local.get $ptr) (local.get $len) (i32.const 64))
    (i32.load8_u (i32.const 64)))
  ;; Writes `len` bytes one write at a time.
  (func $write_bytes (param $stream i32) (param $ptr i32) (param $len i32) (result i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (if (call $write (local.get $stream) (i32.add (local.get $ptr) (local.get $i)) (i32.const 1))
          (then (return (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0))
  ;; Appends `len` bytes at `ptr` to the output buffer at global $out.
  (global $out (mut i32) (i32.const 0))
  (global $out_len (mut i32) (i32.const 0))
  (func $append (param $ptr i32) (param $len i32)
    (memory.copy (i32.add (global.get $out) (global.get $out_len)) (local.get $ptr) (local.get $len))
    (global.set $out_len (i32.add (global.get $out_len) (local.get $len))))
  (func $start_output (param $capacity i32)
    (global.set $out (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (local.get $capacity)))
    (global.set $out_len (i32.const 0)))
  ;; "NAME=VALUE\n" for each variable (the list at 32: ptr @32, len @36; 16-byte entries).
  (func $environment (result i32)
    (local $i i32) (local $entry i32) (local $size i32)
    (call $get_environment (i32.const 32))
    (local.set $i (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.load (i32.const 36))))
        (local.set $entry (i32.add (i32.load (i32.const 32)) (i32.mul (local.get $i) (i32.const 16))))
        (local.set $size (i32.add (local.get $size)
          (i32.add (i32.add (i32.load offset=4 (local.get $entry)) (i32.load offset=12 (local.get $entry))) (i32.const 2))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $start_output (local.get $size))
    (local.set $i (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.load (i32.const 36))))
        (local.set $entry (i32.add (i32.load (i32.const 32)) (i32.mul (local.get $i) (i32.const 16))))
        (call $append (i32.load (local.get $entry)) (i32.load offset=4 (local.get $entry)))
        (call $append (i32.const 1072) (i32.const 1))
        (call $append (i32.load offset=8 (local.get $entry)) (i32.load offset=12 (local.get $entry)))
        (call $append (i32.const 1073) (i32.const 1))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0))
  ;; "ARG\n" for each argument (the list at 40: ptr @40, len @44; 8-byte entries).
  (func $arguments (result i32)
    (local $i i32) (local $entry i32) (local $size i32)
    (call $get_arguments (i32.const 40))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.load (i32.const 44))))
        (local.set $entry (i32.add (i32.load (i32.const 40)) (i32.mul (local.get $i) (i32.const 8))))
        (local.set $size (i32.add (local.get $size) (i32.add (i32.load offset=4 (local.get $entry)) (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $start_output (local.get $size))
    (local.set $i (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.load (i32.const 44))))
        (local.set $entry (i32.add (i32.load (i32.const 40)) (i32.mul (local.get $i) (i32.const 8))))
        (call $append (i32.load (local.get $entry)) (i32.load offset=4 (local.get $entry)))
        (call $append (i32.const 1073) (i32.const 1))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0))
  ;; Reads stdin to its end into the output buffer (blocking-read's result at 48: tag @48, ptr @52, len @56).
  (func $read_stdin (result i32)
    (local $in i32)
    (local.set $in (call $get_stdin))
    (call $start_output (i32.const 65536))
    (block $done
      (loop $next
        (call $blocking_read (local.get $in) (i64.const 7) (i32.const 48))
        (if (i32.load8_u (i32.const 48))
          (then
            ;; err: closed (1) is the end; last-operation-failed (0) an error.
            (br_if $done (i32.eq (i32.load8_u (i32.const 52)) (i32.const 1)))
            (return (i32.const 1))))
        (br_if $done (i32.gt_u (i32.add (global.get $out_len) (i32.load (i32.const 56))) (i32.const 65536)))
        (call $append (i32.load (i32.const 52)) (i32.load (i32.const 56)))
        (br $next)))
    (i32.const 0))
  ;; Whether the argument at `entry` (ptr, len) equals `len` bytes at `text`.
  (func $equals (param $entry i32) (param $text i32) (param $len i32) (result i32)
    (local $i i32)
    (if (i32.ne (i32.load offset=4 (local.get $entry)) (local.get $len)) (then (return (i32.const 0))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (if (i32.ne (i32.load8_u (i32.add (i32.load (local.get $entry)) (local.get $i))) (i32.load8_u (i32.add (local.get $text) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))
  ;; The decimal number in the argument at `entry`.
  (func $number (param $entry i32) (result i32)
    (local $i i32) (local $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.load offset=4 (local.get $entry))))
        (local.set $n (i32.add (i32.mul (local.get $n) (i32.const 10))
          (i32.sub (i32.load8_u (i32.add (i32.load (local.get $entry)) (local.get $i))) (i32.const 48))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $n))
  ;; Polls stdin's and stdout's pollables (the list at 96, the ready indices' list at 104).
  (func $poll_stdio (param $stdout i32) (result i32)
    (local $i i32)
    (i32.store (i32.const 96) (call $subscribe_input (call $get_stdin)))
    (i32.store (i32.const 100) (call $subscribe_output (local.get $stdout)))
    (call $poll (i32.const 96) (i32.const 2) (i32.const 104))
    (call $start_output (i32.add (i32.load (i32.const 108)) (i32.const 1)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.load (i32.const 108))))
        (i32.store8 (i32.const 112) (i32.add (i32.const 48) (i32.load (i32.add (i32.load (i32.const 104)) (i32.mul (local.get $i) (i32.const 4))))))
        (call $append (i32.const 112) (i32.const 1))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $append (i32.const 1073) (i32.const 1))
    (call $write (local.get $stdout) (global.get $out) (global.get $out_len)))
  (func (export "wasi:cli/run@0.2.12#run") (result i32)
    (local $stdout i32)
    (local $args i32)
    (local.set $stdout (call $get_stdout))
    (call $get_arguments (i32.const 40))
    (if (i32.and (i32.eq (i32.load (i32.const 44)) (i32.const 2))
          (call $equals (i32.add (i32.load (i32.const 40)) (i32.const 8)) (i32.const 1080) (i32.const 4)))
      (then (return (call $poll_stdio (local.get $stdout)))))
    (if (i32.and (i32.eq (i32.load (i32.const 44)) (i32.const 2))
          (call $equals (i32.add (i32.load (i32.const 40)) (i32.const 8)) (i32.const 1088) (i32.const 4)))
      (then
        (drop (call $write (call $get_stderr) (i32.const 1096) (i32.const 9)))
        (loop $spin (br $spin))))
    (drop (call $arguments))
    (if (call $write_bytes (local.get $stdout) (global.get $out) (global.get $out_len)) (then (return (i32.const 1))))
    (drop (call $environment))
    (if (call $write (local.get $stdout) (global.get $out) (global.get $out_len)) (then (return (i32.const 1))))
    (if (call $read_stdin) (then (return (i32.const 1))))
    (if (call $write (local.get $stdout) (global.get $out) (global.get $out_len)) (then (return (i32.const 1))))
    (if (call $write (call $get_stderr) (i32.const 1064) (i32.const 6)) (then (return (i32.const 1))))
    (call $get_arguments (i32.const 40))
    (local.set $args (i32.load (i32.const 40)))
    (if (i32.and (i32.eq (i32.load (i32.const 44)) (i32.const 3))
          (call $equals (i32.add (local.get $args) (i32.const 8)) (i32.const 1056) (i32.const 4)))
      (then (call $exit_with_code (call $number (i32.add (local.get $args) (i32.const 16)))) (unreachable)))
    (i32.const 0)))
