;; world: actor
;; A counter that shows what the host told it, for the cluster's delivery tests: each handle-message
;; counts 1 and answers ok(some(16 bytes)): the count (u32 LE), whether the message had a correlation id
;; (u32 LE, 0 or 1) and that id (u64 LE, 0 when none). Imports nothing.
(module
  (memory (export "memory") 1)
  ;; The count lives at 64, the answer is built at 80.
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
  ;; result<option<list<u8>>, string> in a return area at 16: tag @16, option tag @20, list ptr @24, len @28.
  (func (export "airssys:component/handler@0.1.0#handle-message")
    (param $sender_ptr i32) (param $sender_len i32)
    (param $topic_disc i32) (param $topic_ptr i32) (param $topic_len i32)
    (param $corr_disc i32) (param $corr i64)
    (param $payload_ptr i32) (param $payload_len i32)
    (result i32)
    (i32.store (i32.const 64) (i32.add (i32.load (i32.const 64)) (i32.const 1)))
    (i32.store (i32.const 80) (i32.load (i32.const 64)))
    (i32.store (i32.const 84) (local.get $corr_disc))
    (i64.store (i32.const 88)
      (select (local.get $corr) (i64.const 0) (local.get $corr_disc)))
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store8 (i32.const 20) (i32.const 1))
    (i32.store (i32.const 24) (i32.const 80))
    (i32.store (i32.const 28) (i32.const 16))
    (i32.const 16))
  (func (export "cabi_post_airssys:component/handler@0.1.0#handle-message") (param i32)
    (global.set $heap (i32.const 1024))))
