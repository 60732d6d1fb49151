;; world: processor
;; A core module whose `start` function does legitimate work before the first call: 20,000,000 loop
;; iterations (about 20M fuel units, tens of milliseconds), adding up 0..19,999,999 modulo 2^32. `process`
;; returns that sum, little-endian: 0x205b_e980 (the low 32 bits of 199,999,990,000,000).
(module
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
  (func $init
    (local $i i32)
    (local $sum i32)
    (loop $more
      (local.set $sum (i32.add (local.get $sum) (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 20000000))))
    (i32.store (i32.const 512) (local.get $sum)))
  (start $init)
  ;; result<list<u8>, string> through a return area at 16: tag 0 (ok), ptr 512, len 4.
  (func (export "process") (param $ptr i32) (param $len i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (i32.const 512))
    (i32.store (i32.const 24) (i32.const 4))
    (i32.const 16))
  (func (export "cabi_post_process") (param i32)
    (global.set $heap (i32.const 1024))))
