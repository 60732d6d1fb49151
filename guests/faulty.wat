;; world: processor
;; Misbehaving processor: input "trap" traps (unreachable); "err:REST" returns err(REST); "oob" returns an
;; ok list whose ptr/len lie past the end of linear memory ("oob-err": the same for an err string);
;; anything else is echoed back as ok.
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
  ;; result<list<u8>, string> is returned through a return area at 16: tag, ptr, len.
  (func (export "process") (param $ptr i32) (param $len i32) (result i32)
    ;; "trap" (exactly 4 bytes; 0x70617274 little-endian) -> trap
    (if (i32.and (i32.eq (local.get $len) (i32.const 4))
                 (i32.eq (i32.load (local.get $ptr)) (i32.const 0x70617274)))
      (then unreachable))
    ;; "err:" prefix (0x3a727265 little-endian) -> err(rest)
    (if (i32.ge_u (local.get $len) (i32.const 4))
      (then
        (if (i32.eq (i32.load (local.get $ptr)) (i32.const 0x3a727265))
          (then
            (i32.store8 (i32.const 16) (i32.const 1))
            (i32.store (i32.const 20) (i32.add (local.get $ptr) (i32.const 4)))
            (i32.store (i32.const 24) (i32.sub (local.get $len) (i32.const 4)))
            (return (i32.const 16))))))
    ;; "oob" -> ok list starting at the first byte past the end of memory, 16 bytes long
    (if (i32.eq (local.get $len) (i32.const 3))
      (then
        (if (i32.and (i32.eq (i32.load16_u (local.get $ptr)) (i32.const 0x6f6f))
                     (i32.eq (i32.load8_u offset=2 (local.get $ptr)) (i32.const 0x62)))
          (then
            (i32.store8 (i32.const 16) (i32.const 0))
            (i32.store (i32.const 20) (i32.mul (memory.size) (i32.const 65536)))
            (i32.store (i32.const 24) (i32.const 16))
            (return (i32.const 16))))))
    ;; "oob-err" -> err string starting at the first byte past the end of memory, 16 bytes long
    (if (i32.eq (local.get $len) (i32.const 7))
      (then
        (if (i32.and (i32.eq (i32.load (local.get $ptr)) (i32.const 0x2d626f6f))
                     (i32.and (i32.eq (i32.load16_u offset=4 (local.get $ptr)) (i32.const 0x7265))
                              (i32.eq (i32.load8_u offset=6 (local.get $ptr)) (i32.const 0x72))))
          (then
            (i32.store8 (i32.const 16) (i32.const 1))
            (i32.store (i32.const 20) (i32.mul (memory.size) (i32.const 65536)))
            (i32.store (i32.const 24) (i32.const 16))
            (return (i32.const 16))))))
    ;; otherwise echo
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (local.get $ptr))
    (i32.store (i32.const 24) (local.get $len))
    (i32.const 16))
  (func (export "cabi_post_process") (param i32)
    (global.set $heap (i32.const 1024))))
