;; world: actor
;; An actor that drives all four messaging imports from its payload, for the Messaging capability tests.
;; A payload is an op byte, then fields each prefixed by one length byte:
;;   's' TARGET PAYLOAD   send(TARGET, PAYLOAD)                   -> ok(some(PAYLOAD))
;;   'r' TARGET PAYLOAD   request(TARGET, PAYLOAD, 1000 ms)       -> ok(some(reply))
;;   'p' TOPIC PAYLOAD    publish(TOPIC, PAYLOAD)                 -> ok(some(PAYLOAD))
;;   'u' TOPIC            subscribe(TOPIC)                        -> ok(some(TOPIC))
;; A host err(e) becomes err(e); fields running past the payload -> err("malformed command").
;; Anything else (and every message that came through a topic) is logged and answered with itself:
;; the topic, when there is one, at debug, then the payload at info.
(module
  (import "airssys:component/logging@0.1.0" "log" (func $log (param i32 i32 i32)))
  ;; Each import writes result<_, string> / result<list<u8>, string> at its last argument: tag, ptr, len.
  (import "airssys:component/messaging@0.1.0" "send" (func $send (param i32 i32 i32 i32 i32)))
  (import "airssys:component/messaging@0.1.0" "request" (func $request (param i32 i32 i32 i32 i32 i32)))
  (import "airssys:component/messaging@0.1.0" "publish" (func $publish (param i32 i32 i32 i32 i32)))
  (import "airssys:component/messaging@0.1.0" "subscribe" (func $subscribe (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 512) "malformed command") ;; 17 bytes
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
  ;; The import's result at 48: err(e) -> err(e), ok -> reply(ptr, len).
  (func $settle (param $ptr i32) (param $len i32) (result i32)
    (if (result i32) (i32.load8_u (i32.const 48))
      (then (call $err (i32.load (i32.const 52)) (i32.load (i32.const 56))))
      (else (call $reply (local.get $ptr) (local.get $len)))))
  (func (export "airssys:component/handler@0.1.0#handle-message")
    (param $sender_ptr i32) (param $sender_len i32)
    (param $topic_disc i32) (param $topic_ptr i32) (param $topic_len i32)
    (param $corr_disc i32) (param $corr i64)
    (param $payload_ptr i32) (param $payload_len i32)
    (result i32)
    (local $op i32) (local $end i32) (local $a i32) (local $a_len i32) (local $b i32) (local $b_len i32)
    (local.set $end (i32.add (local.get $payload_ptr) (local.get $payload_len)))
    (if (i32.and (i32.eqz (local.get $topic_disc)) (i32.ge_u (local.get $payload_len) (i32.const 2)))
      (then
        (local.set $op (i32.load8_u (local.get $payload_ptr)))
        (if (i32.or (i32.or (i32.eq (local.get $op) (i32.const 115)) (i32.eq (local.get $op) (i32.const 114)))
                    (i32.or (i32.eq (local.get $op) (i32.const 112)) (i32.eq (local.get $op) (i32.const 117))))
          (then
            ;; first field
            (local.set $a_len (i32.load8_u offset=1 (local.get $payload_ptr)))
            (local.set $a (i32.add (local.get $payload_ptr) (i32.const 2)))
            (if (i32.gt_u (i32.add (local.get $a) (local.get $a_len)) (local.get $end))
              (then (return (call $err (i32.const 512) (i32.const 17)))))
            ;; 'u': subscribe(topic)
            (if (i32.eq (local.get $op) (i32.const 117))
              (then
                (call $subscribe (local.get $a) (local.get $a_len) (i32.const 48))
                (return (call $settle (local.get $a) (local.get $a_len)))))
            ;; second field
            (local.set $b (i32.add (local.get $a) (local.get $a_len)))
            (if (i32.ge_u (local.get $b) (local.get $end))
              (then (return (call $err (i32.const 512) (i32.const 17)))))
            (local.set $b_len (i32.load8_u (local.get $b)))
            (local.set $b (i32.add (local.get $b) (i32.const 1)))
            (if (i32.gt_u (i32.add (local.get $b) (local.get $b_len)) (local.get $end))
              (then (return (call $err (i32.const 512) (i32.const 17)))))
            (if (i32.eq (local.get $op) (i32.const 115))
              (then
                (call $send (local.get $a) (local.get $a_len) (local.get $b) (local.get $b_len) (i32.const 48))
                (return (call $settle (local.get $b) (local.get $b_len)))))
            (if (i32.eq (local.get $op) (i32.const 112))
              (then
                (call $publish (local.get $a) (local.get $a_len) (local.get $b) (local.get $b_len) (i32.const 48))
                (return (call $settle (local.get $b) (local.get $b_len)))))
            ;; 'r': request; ok payload is the reply list at 52 (ptr), 56 (len)
            (call $request (local.get $a) (local.get $a_len) (local.get $b) (local.get $b_len) (i32.const 1000) (i32.const 48))
            (return (call $settle (i32.load (i32.const 52)) (i32.load (i32.const 56))))))))
    ;; A plain message: log the topic (debug = 1) when there is one, the payload (info = 2), echo it.
    (if (local.get $topic_disc)
      (then (call $log (i32.const 1) (local.get $topic_ptr) (local.get $topic_len))))
    (call $log (i32.const 2) (local.get $payload_ptr) (local.get $payload_len))
    (call $reply (local.get $payload_ptr) (local.get $payload_len)))
  (func (export "cabi_post_airssys:component/handler@0.1.0#handle-message") (param i32)
    (global.set $heap (i32.const 1024))))
