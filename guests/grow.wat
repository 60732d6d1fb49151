;; world: processor
;; Memory grower (1 initial page, no maximum). Input: u32 LE page count N -> memory.grow(N), ok(u32 LE new
;; total pages) or err("memory.grow refused"). Empty input: grow by 16 pages until refused, then
;; err("memory.grow refused at N pages"). Any other input length: err("input must be 0 or 4 bytes").
(module
  (memory (export "memory") 1)
  (data (i32.const 256) "memory.grow refused at ")   ;; 23 bytes; the page count is written after it
  (data (i32.const 192) " pages")                    ;; 6 bytes
  (data (i32.const 128) "input must be 0 or 4 bytes") ;; 26 bytes
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
  ;; Writes `n` in decimal at `at`; returns the number of digits written.
  (func $decimal (param $n i32) (param $at i32) (result i32)
    (local $digits i32) (local $m i32)
    (local.set $digits (i32.const 1))
    (local.set $m (local.get $n))
    (block $done
      (loop $count
        (br_if $done (i32.lt_u (local.get $m) (i32.const 10)))
        (local.set $m (i32.div_u (local.get $m) (i32.const 10)))
        (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
        (br $count)))
    (local.set $m (i32.add (local.get $at) (local.get $digits)))
    (loop $write
      (local.set $m (i32.sub (local.get $m) (i32.const 1)))
      (i32.store8 (local.get $m) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $write (i32.gt_u (local.get $m) (local.get $at))))
    (local.get $digits))
  ;; Stores err(string at ptr, len) in the return area at 16 and returns it.
  (func $err (param $ptr i32) (param $len i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 1))
    (i32.store (i32.const 20) (local.get $ptr))
    (i32.store (i32.const 24) (local.get $len))
    (i32.const 16))
  ;; result<list<u8>, string> is returned through a return area at 16: tag, ptr, len.
  (func (export "process") (param $ptr i32) (param $len i32) (result i32)
    (local $digits i32)
    (if (i32.eqz (local.get $len))
      (then
        ;; Grow by 16 pages until refused.
        (loop $more
          (br_if $more (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
        (local.set $digits (call $decimal (memory.size) (i32.const 279)))
        (memory.copy (i32.add (i32.const 279) (local.get $digits)) (i32.const 192) (i32.const 6))
        (return (call $err (i32.const 256) (i32.add (i32.const 29) (local.get $digits))))))
    (if (i32.ne (local.get $len) (i32.const 4))
      (then (return (call $err (i32.const 128) (i32.const 26)))))
    (if (i32.eq (memory.grow (i32.load (local.get $ptr))) (i32.const -1))
      (then (return (call $err (i32.const 256) (i32.const 19)))))
    ;; ok: 4 bytes at 32 holding the new page count.
    (i32.store (i32.const 32) (memory.size))
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (i32.const 32))
    (i32.store (i32.const 24) (i32.const 4))
    (i32.const 16))
  (func (export "cabi_post_process") (param i32)
    (global.set $heap (i32.const 1024))))
