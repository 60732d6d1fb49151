;; world: processor
;; A core module with a `start` function that does one store: the least start code there is. `process`
;; returns the 4 bytes the start function wrote (0x2a, 0, 0, 0), whatever the input.
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
  (func $init (i32.store (i32.const 512) (i32.const 42)))
  (start $init)
  ;; result<list<u8>, string> through a return area at 16: tag 0 (ok), ptr 512, len 4.
  (func (export "process") (param $ptr i32) (param $len i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (i32.const 512))
    (i32.store (i32.const 24) (i32.const 4))
    (i32.const 16))
  (func (export "cabi_post_process") (param i32)
    (global.set $heap (i32.const 1024))))
