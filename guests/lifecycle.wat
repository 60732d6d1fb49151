;; world: actor-with-lifecycle
;; Stateful actor: init(config) stores len(config) in a counter ("fail" -> err("init refused")); each
;; handle-message increments it and replies ok(some(u32 LE counter)); payload "trap" traps. shutdown is a no-op.
;; Imports nothing: wit-component drops the world's unused logging/messaging imports.
(module
  (memory (export "memory") 1)
  (data (i32.const 128) "init refused") ;; 12 bytes
  ;; The counter lives at 64. Bump allocator; the heap is reset by post-return, so every call starts clean.
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
  ;; result<_, string> in a return area at 16: tag @16, err string ptr @20, len @24.
  (func (export "airssys:component/lifecycle@0.1.0#init") (param $ptr i32) (param $len i32) (result i32)
    ;; "fail" = 0x6c696166 little-endian
    (if (i32.and (i32.eq (local.get $len) (i32.const 4))
                 (i32.eq (i32.load (local.get $ptr)) (i32.const 0x6c696166)))
      (then
        (i32.store8 (i32.const 16) (i32.const 1))
        (i32.store (i32.const 20) (i32.const 128))
        (i32.store (i32.const 24) (i32.const 12))
        (return (i32.const 16))))
    (i32.store (i32.const 64) (local.get $len))
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.const 16))
  (func (export "cabi_post_airssys:component/lifecycle@0.1.0#init") (param i32)
    (global.set $heap (i32.const 1024)))
  (func (export "airssys:component/lifecycle@0.1.0#shutdown"))
  ;; result<option<list<u8>>, string> in a return area at 16: tag @16, option tag @20, list ptr @24, len @28.
  (func (export "airssys:component/handler@0.1.0#handle-message")
    (param $sender_ptr i32) (param $sender_len i32)
    (param $topic_disc i32) (param $topic_ptr i32) (param $topic_len i32)
    (param $corr_disc i32) (param $corr i64)
    (param $payload_ptr i32) (param $payload_len i32)
    (result i32)
    ;; "trap" = 0x70617274 little-endian
    (if (i32.and (i32.eq (local.get $payload_len) (i32.const 4))
                 (i32.eq (i32.load (local.get $payload_ptr)) (i32.const 0x70617274)))
      (then unreachable))
    (i32.store (i32.const 64) (i32.add (i32.load (i32.const 64)) (i32.const 1)))
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store8 (i32.const 20) (i32.const 1))
    (i32.store (i32.const 24) (i32.const 64))
    (i32.store (i32.const 28) (i32.const 4))
    (i32.const 16))
  (func (export "cabi_post_airssys:component/handler@0.1.0#handle-message") (param i32)
    (global.set $heap (i32.const 1024))))
