;; world: actor
;; Actor that asks another component: handle-message calls messaging.request(target = the payload as a
;; string, payload = the message's sender, timeout 1000 ms) and replies with the answer; an err from
;; request -> err. Two askers pointed at each other make a request cycle.
(module
  ;; request(target ptr, len; payload ptr, len; timeout-ms; retptr) -> result<list<u8>, string> at retptr: tag, ptr, len.
  (import "airssys:component/messaging@0.1.0" "request" (func $request (param i32 i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
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
  (func (export "airssys:component/handler@0.1.0#handle-message")
    (param $sender_ptr i32) (param $sender_len i32)
    (param $topic_disc i32) (param $topic_ptr i32) (param $topic_len i32)
    (param $corr_disc i32) (param $corr i64)
    (param $payload_ptr i32) (param $payload_len i32)
    (result i32)
    (call $request (local.get $payload_ptr) (local.get $payload_len) (local.get $sender_ptr) (local.get $sender_len) (i32.const 1000) (i32.const 32))
    (if (i32.load8_u (i32.const 32))
      (then
        ;; err(string) as returned by the host
        (i32.store8 (i32.const 16) (i32.const 1))
        (i32.store (i32.const 20) (i32.load (i32.const 36)))
        (i32.store (i32.const 24) (i32.load (i32.const 40)))
        (return (i32.const 16))))
    ;; ok(some(reply))
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store8 (i32.const 20) (i32.const 1))
    (i32.store (i32.const 24) (i32.load (i32.const 36)))
    (i32.store (i32.const 28) (i32.load (i32.const 40)))
    (i32.const 16))
  (func (export "cabi_post_airssys:component/handler@0.1.0#handle-message") (param i32)
    (global.set $heap (i32.const 1024))))
