;; world: actor
;; Pipeline stage 2 of 4, validation: a record "N:value" passes when value is 1 to 32 lowercase ASCII
;; letters; it then asks "processing" with it (request, 1000 ms) and answers with that answer. Anything
;; else -> err("rejected " + record), and the record goes no further.
(module
  ;; request(target ptr, len; payload ptr, len; timeout-ms; retptr) -> result<list<u8>, string> at retptr: tag, ptr, len.
  (import "airssys:component/messaging@0.1.0" "request" (func $request (param i32 i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 128) "processing") ;; 10 bytes
  (data (i32.const 160) "rejected ") ;; 9 bytes
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
  ;; 1 when the record is "N:value" with value 1 to 32 lowercase ASCII letters, else 0.
  (func $valid (param $ptr i32) (param $len i32) (result i32)
    (local $end i32) (local $at i32) (local $value i32) (local $c i32)
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    (local.set $at (local.get $ptr))
    ;; the value starts after the first ':'
    (block
      (loop
        (if (i32.ge_u (local.get $at) (local.get $end)) (then (return (i32.const 0))))
        (br_if 1 (i32.eq (i32.load8_u (local.get $at)) (i32.const 58)))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (br 0)))
    (local.set $value (i32.add (local.get $at) (i32.const 1)))
    (if (i32.lt_u (i32.sub (local.get $end) (local.get $value)) (i32.const 1)) (then (return (i32.const 0))))
    (if (i32.gt_u (i32.sub (local.get $end) (local.get $value)) (i32.const 32)) (then (return (i32.const 0))))
    (local.set $at (local.get $value))
    (block
      (loop
        (br_if 1 (i32.ge_u (local.get $at) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $at)))
        (if (i32.or (i32.lt_u (local.get $c) (i32.const 97)) (i32.gt_u (local.get $c) (i32.const 122)))
          (then (return (i32.const 0))))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (br 0)))
    (i32.const 1))
  (func (export "airssys:component/handler@0.1.0#handle-message")
    (param $sender_ptr i32) (param $sender_len i32)
    (param $topic_disc i32) (param $topic_ptr i32) (param $topic_len i32)
    (param $corr_disc i32) (param $corr i64)
    (param $payload_ptr i32) (param $payload_len i32)
    (result i32)
    (local $buf i32)
    (if (call $valid (local.get $payload_ptr) (local.get $payload_len))
      (then
        (call $request (i32.const 128) (i32.const 10) (local.get $payload_ptr) (local.get $payload_len) (i32.const 1000) (i32.const 48))
        (return (call $forward))))
    (local.set $buf (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (i32.add (local.get $payload_len) (i32.const 9))))
    (memory.copy (local.get $buf) (i32.const 160) (i32.const 9))
    (memory.copy (i32.add (local.get $buf) (i32.const 9)) (local.get $payload_ptr) (local.get $payload_len))
    (call $err (local.get $buf) (i32.add (local.get $payload_len) (i32.const 9)))))
