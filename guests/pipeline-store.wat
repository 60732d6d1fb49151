;; world: storage-actor
;; Pipeline stage 4 of 4, storage: a record "N:VALUE" is stored under key N in the storage namespace
;; "pipeline" (storage.set) and answered with "stored N:VALUE"; a record without ':' -> err("malformed
;; record"); a storage err(e) -> err(e).
(module
  ;; set(namespace ptr, len; key ptr, len; value ptr, len; retptr) -> result<_, string> at retptr: tag, ptr, len.
  (import "airssys:component/storage@0.1.0" "set" (func $set (param i32 i32 i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 128) "pipeline") ;; 8 bytes
  (data (i32.const 144) "stored ") ;; 7 bytes
  (data (i32.const 160) "malformed record") ;; 16 bytes
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
    (local $end i32) (local $at i32) (local $buf i32)
    (local.set $end (i32.add (local.get $payload_ptr) (local.get $payload_len)))
    (local.set $at (local.get $payload_ptr))
    (block
      (loop
        (if (i32.ge_u (local.get $at) (local.get $end))
          (then (return (call $err (i32.const 160) (i32.const 16)))))
        (br_if 1 (i32.eq (i32.load8_u (local.get $at)) (i32.const 58)))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (br 0)))
    (call $set (i32.const 128) (i32.const 8)
      (local.get $payload_ptr) (i32.sub (local.get $at) (local.get $payload_ptr))
      (i32.add (local.get $at) (i32.const 1)) (i32.sub (local.get $end) (i32.add (local.get $at) (i32.const 1)))
      (i32.const 48))
    (if (i32.load8_u (i32.const 48))
      (then (return (call $err (i32.load (i32.const 52)) (i32.load (i32.const 56))))))
    (local.set $buf (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (i32.add (local.get $payload_len) (i32.const 7))))
    (memory.copy (local.get $buf) (i32.const 144) (i32.const 7))
    (memory.copy (i32.add (local.get $buf) (i32.const 7)) (local.get $payload_ptr) (local.get $payload_len))
    (call $reply (local.get $buf) (i32.add (local.get $payload_len) (i32.const 7)))))
