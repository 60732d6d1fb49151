;; world: http-processor
;; Outbound HTTP probe: process(input) calls http.fetch(GET, url = input as a string, no headers, no
;; body). ok(response) -> ok("SSS " ++ body), SSS the status as three decimal digits; err(e) from the
;; host -> err(e). The call suspends the guest (JSPI) while the host fetches.
(module
  ;; fetch(method ptr, len; url ptr, len; headers ptr, len; body ptr, len; retptr)
  ;; -> result<response, string> at retptr: tag u8 @0; ok: status u16 @4, headers @8/@12, body @16/@20;
  ;; err: string @4/@8.
  (import "airssys:component/http@0.1.0" "fetch" (func $fetch (param i32 i32 i32 i32 i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 8) "GET")
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
  (func (export "process") (param $url_ptr i32) (param $url_len i32) (result i32)
    (local $status i32)
    (local $body_ptr i32)
    (local $body_len i32)
    (local $out i32)
    (call $fetch
      (i32.const 8) (i32.const 3)
      (local.get $url_ptr) (local.get $url_len)
      (i32.const 0) (i32.const 0)
      (i32.const 0) (i32.const 0)
      (i32.const 32))
    (if (i32.load8_u (i32.const 32))
      (then
        ;; err(string) as the host answered
        (i32.store8 (i32.const 64) (i32.const 1))
        (i32.store (i32.const 68) (i32.load (i32.const 36)))
        (i32.store (i32.const 72) (i32.load (i32.const 40)))
        (return (i32.const 64))))
    (local.set $status (i32.load16_u (i32.const 36)))
    (local.set $body_ptr (i32.load (i32.const 48)))
    (local.set $body_len (i32.load (i32.const 52)))
    (local.set $out (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (i32.add (local.get $body_len) (i32.const 4))))
    (i32.store8 (local.get $out) (i32.add (i32.const 48) (i32.div_u (local.get $status) (i32.const 100))))
    (i32.store8 offset=1 (local.get $out) (i32.add (i32.const 48) (i32.rem_u (i32.div_u (local.get $status) (i32.const 10)) (i32.const 10))))
    (i32.store8 offset=2 (local.get $out) (i32.add (i32.const 48) (i32.rem_u (local.get $status) (i32.const 10))))
    (i32.store8 offset=3 (local.get $out) (i32.const 32))
    (memory.copy (i32.add (local.get $out) (i32.const 4)) (local.get $body_ptr) (local.get $body_len))
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (local.get $out))
    (i32.store (i32.const 72) (i32.add (local.get $body_len) (i32.const 4)))
    (i32.const 64))
  (func (export "cabi_post_process") (param i32)
    (global.set $heap (i32.const 1024))))
