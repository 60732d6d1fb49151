;; world: sleeper
;; wit: guests/wit/sleeper.wit
;; Waits on monotonic-clock pollables. process(input): an op byte, then u64 LE arguments. Every answer
;; is ok and starts with monotonic-clock.now (u64 LE) read after the op:
;;   'd' N   subscribe-duration(N), ready?, block, ready?, drop    -> now, ready-before u8, ready-after u8
;;   'i' T   the same with subscribe-instant(T)                    -> now, ready-before u8, ready-after u8
;;   's' N   subscribe-duration(N) kept for later ops (replaces)   -> now
;;   'r'     ready? on the kept pollable                           -> now, ready u8
;;   'b'     block on the kept pollable, then ready?               -> now, ready u8
;;   'p' A B poll([subscribe-duration(A), subscribe-duration(B)])  -> now, count u32, indices u32...
;;   'e'     poll([]) (the host traps)                             -> now
;;   else    -> now
(module
  (import "wasi:clocks/monotonic-clock@0.2.12" "now" (func $now (result i64)))
  (import "wasi:clocks/monotonic-clock@0.2.12" "subscribe-duration" (func $subscribe_duration (param i64) (result i32)))
  (import "wasi:clocks/monotonic-clock@0.2.12" "subscribe-instant" (func $subscribe_instant (param i64) (result i32)))
  (import "wasi:io/poll@0.2.12" "[method]pollable.ready" (func $ready (param i32) (result i32)))
  (import "wasi:io/poll@0.2.12" "[method]pollable.block" (func $block (param i32)))
  (import "wasi:io/poll@0.2.12" "poll" (func $poll (param i32 i32 i32)))
  (import "wasi:io/poll@0.2.12" "[resource-drop]pollable" (func $drop (param i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  ;; The kept pollable's handle, 0 for none.
  (global $kept (mut i32) (i32.const 0))
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
  ;; ok(list) at 64: tag @64, ptr @68, len @72; the list is `len` bytes at `out`, now at out+0.
  (func $answer (param $out i32) (param $len i32) (result i32)
    (i64.store (local.get $out) (call $now))
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (local.get $out))
    (i32.store (i32.const 72) (local.get $len))
    (i32.const 64))
  ;; The u64 argument at byte `at` of the input, 0 past its end.
  (func $arg (param $ptr i32) (param $len i32) (param $at i32) (result i64)
    (if (result i64) (i32.ge_u (local.get $len) (i32.add (local.get $at) (i32.const 8)))
      (then (i64.load (i32.add (local.get $ptr) (local.get $at))))
      (else (i64.const 0))))
  ;; ready?, block, ready?, drop; the two answers at out+8 and out+9.
  (func $wait (param $p i32) (param $out i32)
    (i32.store8 offset=8 (local.get $out) (call $ready (local.get $p)))
    (call $block (local.get $p))
    (i32.store8 offset=9 (local.get $out) (call $ready (local.get $p)))
    (call $drop (local.get $p)))
  (func (export "process") (param $in i32) (param $len i32) (result i32)
    (local $op i32)
    (local $out i32)
    (local $a i32)
    (local $b i32)
    (local $count i32)
    (if (local.get $len) (then (local.set $op (i32.load8_u (local.get $in)))))
    (local.set $out (call $realloc (i32.const 0) (i32.const 0) (i32.const 8) (i32.const 32)))
    ;; 'd'
    (if (i32.eq (local.get $op) (i32.const 100))
      (then
        (call $wait (call $subscribe_duration (call $arg (local.get $in) (local.get $len) (i32.const 1))) (local.get $out))
        (return (call $answer (local.get $out) (i32.const 10)))))
    ;; 'i'
    (if (i32.eq (local.get $op) (i32.const 105))
      (then
        (call $wait (call $subscribe_instant (call $arg (local.get $in) (local.get $len) (i32.const 1))) (local.get $out))
        (return (call $answer (local.get $out) (i32.const 10)))))
    ;; 's'
    (if (i32.eq (local.get $op) (i32.const 115))
      (then
        (if (global.get $kept) (then (call $drop (global.get $kept))))
        (global.set $kept (call $subscribe_duration (call $arg (local.get $in) (local.get $len) (i32.const 1))))
        (return (call $answer (local.get $out) (i32.const 8)))))
    ;; 'r'
    (if (i32.eq (local.get $op) (i32.const 114))
      (then
        (if (i32.eqz (global.get $kept)) (then unreachable))
        (i32.store8 offset=8 (local.get $out) (call $ready (global.get $kept)))
        (return (call $answer (local.get $out) (i32.const 9)))))
    ;; 'b'
    (if (i32.eq (local.get $op) (i32.const 98))
      (then
        (if (i32.eqz (global.get $kept)) (then unreachable))
        (call $block (global.get $kept))
        (i32.store8 offset=8 (local.get $out) (call $ready (global.get $kept)))
        (return (call $answer (local.get $out) (i32.const 9)))))
    ;; 'p': the list of two borrowed handles at 16, the result (ptr, len) at 24.
    (if (i32.eq (local.get $op) (i32.const 112))
      (then
        (local.set $a (call $subscribe_duration (call $arg (local.get $in) (local.get $len) (i32.const 1))))
        (local.set $b (call $subscribe_duration (call $arg (local.get $in) (local.get $len) (i32.const 9))))
        (i32.store (i32.const 16) (local.get $a))
        (i32.store (i32.const 20) (local.get $b))
        (call $poll (i32.const 16) (i32.const 2) (i32.const 24))
        (call $drop (local.get $a))
        (call $drop (local.get $b))
        (local.set $count (i32.load (i32.const 28)))
        (if (i32.gt_u (local.get $count) (i32.const 2)) (then unreachable))
        (i32.store offset=8 (local.get $out) (local.get $count))
        (memory.copy (i32.add (local.get $out) (i32.const 12)) (i32.load (i32.const 24)) (i32.shl (local.get $count) (i32.const 2)))
        (return (call $answer (local.get $out) (i32.add (i32.const 12) (i32.shl (local.get $count) (i32.const 2)))))))
    ;; 'e'
    (if (i32.eq (local.get $op) (i32.const 101))
      (then (call $poll (i32.const 16) (i32.const 0) (i32.const 24))))
    (call $answer (local.get $out) (i32.const 8)))
  (func (export "cabi_post_process") (param i32)
    (global.set $heap (i32.const 1024))))
