;; world: game-actor
;; wit: guests/wit/game-actor.wit
;; A game mod as an actor, for the cluster's runner-group tests: handle-message(weapon) calls the custom
;; host interface `game:api/weapons.fire(weapon)` and replies ok(some(damage u32 LE)), or err(e) when the
;; host refuses.
(module
  ;; fire(weapon ptr, len; retptr): result<u32, string> at retptr: tag @0, u32 or err string ptr @4, len @8.
  (import "game:api/weapons@0.1.0" "fire" (func $fire (param i32 i32 i32)))
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
  ;; result<option<list<u8>>, string> in a return area at 16: tag @16, option tag @20, list @24/@28; err @20/@24.
  (func (export "airssys:component/handler@0.1.0#handle-message")
    (param $sender_ptr i32) (param $sender_len i32)
    (param $topic_disc i32) (param $topic_ptr i32) (param $topic_len i32)
    (param $corr_disc i32) (param $corr i64)
    (param $payload_ptr i32) (param $payload_len i32)
    (result i32)
    (call $fire (local.get $payload_ptr) (local.get $payload_len) (i32.const 48))
    (if (i32.load8_u (i32.const 48))
      (then
        (i32.store8 (i32.const 16) (i32.const 1))
        (i32.store (i32.const 20) (i32.load (i32.const 52)))
        (i32.store (i32.const 24) (i32.load (i32.const 56)))
        (return (i32.const 16))))
    (i32.store (i32.const 64) (i32.load (i32.const 52)))
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store8 (i32.const 20) (i32.const 1))
    (i32.store (i32.const 24) (i32.const 64))
    (i32.store (i32.const 28) (i32.const 4))
    (i32.const 16))
  (func (export "cabi_post_airssys:component/handler@0.1.0#handle-message") (param i32)
    (global.set $heap (i32.const 1024))))
