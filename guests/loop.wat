;; world: processor
;; Runaway processor: `process` spins in a tight `loop br 0` forever, whatever the input.
;; Only run it under fuel limits or in a worker that can be terminated.
(module
  (memory (export "memory") 1)
  ;; Bump allocator; the heap is reset by post-return (never reached here).
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
  (func (export "process") (param $ptr i32) (param $len i32) (result i32)
    (loop $spin (br $spin))
    unreachable)
  (func (export "cabi_post_process") (param i32)
    (global.set $heap (i32.const 1024))))
