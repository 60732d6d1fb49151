;; world: actor
;; Pipeline stage 3 of 4, processing: upper-cases the record's ASCII letters and asks "storage" with it
;; (request, 1000 ms); answers with that answer.
(module
  ;; request(target ptr, len; payload ptr, len; timeout-ms; retptr) -> result<list<u8>, string> at retptr: tag, ptr, len.
  (import "airssys:component/messaging@0.1.0" "request" (func $request (param i32 i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 128) "storage") ;; 7 bytes
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
  ;; The result of request at 48 (tag, ptr, len), as this handler's answer: ok(reply) or err(e).
  (func $forward (result i32)
    (if (result i32) (i32.load8_u (i32.const 48))
      (then (call $err (i32.load (i32.const 52)) (i32.load (i32.const 56))))
      (else (call $reply (i32.load (i32.const 52)) (i32.load (i32.const 56))))))
  (func (export "cabi_post_airssys:component/handler@0.1.0#handle-message") (param i32)
    (global.set $heap (i32.const 1024)))
  (func (export "airssys:component/handler@0.1.0#handle-message")
    (param $sender_ptr i32) (param $sender_len i32)
    (param $topic_disc i32) (param $topic_ptr i32) (param $topic_len i32)
    (param $corr_disc i32) (param $corr i64)
    (param $payload_ptr i32) (param $payload_len i32)
    (result i32)
    (local $buf i32) (local $i i32) (local $c i32)
    (local.set $buf (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (local.get $payload_len)))
    (memory.copy (local.get $buf) (local.get $payload_ptr) (local.get $payload_len))
    (block
      (loop
        (br_if 1 (i32.ge_u (local.get $i) (local.get $payload_len)))
        (local.set $c (i32.load8_u (i32.add (local.get $buf) (local.get $i))))
        (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
          (then (i32.store8 (i32.add (local.get $buf) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br 0)))
    (call $request (i32.const 128) (i32.const 7) (local.get $buf) (local.get $payload_len) (i32.const 1000) (i32.const 48))
    (call $forward)))
