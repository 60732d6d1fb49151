;; world: poll-command
;; wit: guests/wit/poll-command.wit
;; A command whose run polls stdio pollables beside a clock:
;;   1. poll([60 s clock, stdin]) must answer [1] at once (stdin is ready: it is empty, reads say closed);
;;   2. poll([stdout, 60 s clock]) must answer [0] at once;
;;   3. poll([2 s clock]) waits for the clock (the guest suspended) and answers [0].
;; run returns ok when every answer was as expected, err at the first that was not.
(module
  (import "wasi:clocks/monotonic-clock@0.2.12" "subscribe-duration" (func $subscribe_duration (param i64) (result i32)))
  (import "wasi:cli/stdin@0.2.12" "get-stdin" (func $get_stdin (result i32)))
  (import "wasi:cli/stdout@0.2.12" "get-stdout" (func $get_stdout (result i32)))
  (import "wasi:io/streams@0.2.12" "[method]input-stream.subscribe" (func $input_subscribe (param i32) (result i32)))
  (import "wasi:io/streams@0.2.12" "[method]output-stream.subscribe" (func $output_subscribe (param i32) (result i32)))
  (import "wasi:io/streams@0.2.12" "[resource-drop]input-stream" (func $drop_input (param i32)))
  (import "wasi:io/streams@0.2.12" "[resource-drop]output-stream" (func $drop_output (param i32)))
  (import "wasi:io/poll@0.2.12" "poll" (func $poll (param i32 i32 i32)))
  (import "wasi:io/poll@0.2.12" "[resource-drop]pollable" (func $drop_pollable (param i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (func $realloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (global.set $heap (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
  ;; poll over the handles at 32 (n of them): 1 when the answer is exactly [want], else 0.
  (func $poll_is (param $n i32) (param $want i32) (result i32)
    ;; list<u32> returned at 16: ptr @16, len @20.
    (call $poll (i32.const 32) (local.get $n) (i32.const 16))
    (i32.and
      (i32.eq (i32.load (i32.const 20)) (i32.const 1))
      (i32.eq (i32.load (i32.load (i32.const 16))) (local.get $want))))
  (func (export "wasi:cli/run@0.2.12#run") (result i32)
    (local $clock i32) (local $stdin i32) (local $stdout i32) (local $ok i32)
    (local.set $clock (call $subscribe_duration (i64.const 60000000000)))
    (local.set $stdin (call $get_stdin))
    (i32.store (i32.const 32) (local.get $clock))
    (i32.store (i32.const 36) (call $input_subscribe (local.get $stdin)))
    (local.set $ok (call $poll_is (i32.const 2) (i32.const 1)))
    (call $drop_pollable (i32.load (i32.const 36)))
    (call $drop_input (local.get $stdin))
    (if (i32.eqz (local.get $ok)) (then (return (i32.const 1))))
    (local.set $stdout (call $get_stdout))
    (i32.store (i32.const 32) (call $output_subscribe (local.get $stdout)))
    (i32.store (i32.const 36) (local.get $clock))
    (local.set $ok (call $poll_is (i32.const 2) (i32.const 0)))
    (call $drop_pollable (i32.load (i32.const 32)))
    (call $drop_output (local.get $stdout))
    (call $drop_pollable (local.get $clock))
    (if (i32.eqz (local.get $ok)) (then (return (i32.const 1))))
    (i32.store (i32.const 32) (call $subscribe_duration (i64.const 2000000000)))
    (local.set $ok (call $poll_is (i32.const 1) (i32.const 0)))
    (call $drop_pollable (i32.load (i32.const 32)))
    (if (i32.eqz (local.get $ok)) (then (return (i32.const 1))))
    (i32.const 0)))
