;; world: processor
;; Bounded busy loop: input u32 LE N → counts N iterations of a tight loop, then returns ok(u32 LE N).
;; Work grows with N without end (N = 4e9 runs for seconds), so limits tests can pick a call that
;; finishes and one that does not.
(module
  (memory (export "memory") 1)
  ;; Bump allocator; the heap is reset by post-return, so every call starts clean.
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
  ;; result<list<u8>, string> through a return area at 16: tag, ptr, len; the u32 answer at 32.
  (func (export "process") (param $ptr i32) (param $len i32) (result i32)
    (local $n i32) (local $i i32)
    (local.set $n (if (result i32) (i32.eq (local.get $len) (i32.const 4))
      (then (i32.load (local.get $ptr)))
      (else (i32.const 0))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.store (i32.const 32) (local.get $i))
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (i32.const 32))
    (i32.store (i32.const 24) (i32.const 4))
    (i32.const 16))
  (func (export "cabi_post_process") (param i32)
    (global.set $heap (i32.const 1024))))
