;; world: clock-probe
;; wit: guests/wit/clock-probe.wit
;; WASI clocks and random probe: process(input) answers ok(bytes), all little-endian:
;;   @0 wall-clock.now seconds (u64), @8 nanoseconds (u32), @12 monotonic-clock.now (u64, ns),
;;   @20 random.get-random-u64 (u64), @28 random.get-random-bytes(N) (N bytes),
;; N = the input's first byte, 16 when the input is empty.
(module
  (import "wasi:clocks/wall-clock@0.2.12" "now" (func $wall_now (param i32)))
  (import "wasi:clocks/monotonic-clock@0.2.12" "now" (func $mono_now (result i64)))
  (import "wasi:random/random@0.2.12" "get-random-bytes" (func $random_bytes (param i64 i32)))
  (import "wasi:random/random@0.2.12" "get-random-u64" (func $random_u64 (result i64)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
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
  (func (export "process") (param $in_ptr i32) (param $in_len i32) (result i32)
    (local $n i32)
    (local $out i32)
    (local.set $n (i32.const 16))
    (if (local.get $in_len) (then (local.set $n (i32.load8_u (local.get $in_ptr)))))
    (local.set $out (call $realloc (i32.const 0) (i32.const 0) (i32.const 8) (i32.add (local.get $n) (i32.const 28))))
    ;; datetime at 16: seconds u64 @16, nanoseconds u32 @24
    (call $wall_now (i32.const 16))
    (i64.store (local.get $out) (i64.load (i32.const 16)))
    (i32.store offset=8 (local.get $out) (i32.load (i32.const 24)))
    (i64.store offset=12 (local.get $out) (call $mono_now))
    (i64.store offset=20 (local.get $out) (call $random_u64))
    ;; list<u8> at 40: ptr @40, len @44
    (call $random_bytes (i64.extend_i32_u (local.get $n)) (i32.const 40))
    (memory.copy (i32.add (local.get $out) (i32.const 28)) (i32.load (i32.const 40)) (i32.load (i32.const 44)))
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (local.get $out))
    (i32.store (i32.const 72) (i32.add (i32.load (i32.const 44)) (i32.const 28)))
    (i32.const 64))
  (func (export "cabi_post_process") (param i32)
    (global.set $heap (i32.const 1024))))
