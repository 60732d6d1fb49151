;; world: storage-actor
;; A counter kept in host storage, not in guest memory: each message's payload names a storage
;; namespace NS (a cluster actor's own is its id); the guest reads "count" there (a u32 LE, none = 0),
;; stores count + 1 and answers it (u32 LE). A host err(e) on get or set -> err(e). Its memory holds
;; nothing between calls, so a count survives a restart, a move to another runner, a passivation.
(module
  ;; get(ns ptr, len; key ptr, len; retptr) -> result<option<list<u8>>, string> at retptr:
  ;;   tag @0; ok: option tag @4, list ptr @8, len @12; err: string ptr @4, len @8.
  (import "airssys:component/storage@0.1.0" "get" (func $get (param i32 i32 i32 i32 i32)))
  ;; set(ns ptr, len; key ptr, len; value ptr, len; retptr) -> result<_, string>: tag @0, err ptr @4, len @8.
  (import "airssys:component/storage@0.1.0" "set" (func $set (param i32 i32 i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 128) "count") ;; 5 bytes
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
  ;; result<option<list<u8>>, string> in a return area at 16:
  ;;   tag @16; ok: option tag @20, list ptr @24, len @28; err: string ptr @20, len @24.
  (func $reply (param $ptr i32) (param $len i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store8 (i32.const 20) (i32.const 1))
    (i32.store (i32.const 24) (local.get $ptr))
    (i32.store (i32.const 28) (local.get $len))
    (i32.const 16))
  (func $err (param $ptr i32) (param $len i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 1))
    (i32.store (i32.const 20) (local.get $ptr))
    (i32.store (i32.const 24) (local.get $len))
    (i32.const 16))
  (func (export "cabi_post_airssys:component/handler@0.1.0#handle-message") (param i32)
    (global.set $heap (i32.const 1024)))
  (func (export "airssys:component/handler@0.1.0#handle-message")
    (param $sender_ptr i32) (param $sender_len i32)
    (param $topic_disc i32) (param $topic_ptr i32) (param $topic_len i32)
    (param $corr_disc i32) (param $corr i64)
    (param $payload_ptr i32) (param $payload_len i32)
    (result i32)
    (local $count i32)
    ;; get(NS, "count") -> return area at 48
    (call $get (local.get $payload_ptr) (local.get $payload_len) (i32.const 128) (i32.const 5) (i32.const 48))
    (if (i32.load8_u (i32.const 48))
      (then (return (call $err (i32.load (i32.const 52)) (i32.load (i32.const 56))))))
    ;; some(value) of 4 bytes: the count so far; none (or another length): 0.
    (if (i32.and (i32.load8_u (i32.const 52)) (i32.eq (i32.load (i32.const 60)) (i32.const 4)))
      (then (local.set $count (i32.load (i32.load (i32.const 56))))))
    (i32.store (i32.const 64) (i32.add (local.get $count) (i32.const 1)))
    ;; set(NS, "count", count + 1) -> return area at 80
    (call $set (local.get $payload_ptr) (local.get $payload_len) (i32.const 128) (i32.const 5)
      (i32.const 64) (i32.const 4) (i32.const 80))
    (if (i32.load8_u (i32.const 80))
      (then (return (call $err (i32.load (i32.const 84)) (i32.load (i32.const 88))))))
    (call $reply (i32.const 64) (i32.const 4))))
