;; world: actor
;; Actor for resource-limit tests (imports nothing): "loop" spins forever, "deep" recurses without end
;; (stack overflow), "grow" grows memory a page at a time until refused and then traps, anything else is
;; answered with "tock".
(module
  (memory (export "memory") 1)
  (data (i32.const 64) "tock")
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
  (func $deep (param $n i32) (result i32)
    (i32.add (call $deep (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))
  (func (export "airssys:component/handler@0.1.0#handle-message")
    (param $sender_ptr i32) (param $sender_len i32)
    (param $topic_disc i32) (param $topic_ptr i32) (param $topic_len i32)
    (param $corr_disc i32) (param $corr i64)
    (param $payload_ptr i32) (param $payload_len i32)
    (result i32)
    (local $word i32)
    (if (i32.eq (local.get $payload_len) (i32.const 4))
      (then
        (local.set $word (i32.load (local.get $payload_ptr)))
        ;; "loop"
        (if (i32.eq (local.get $word) (i32.const 0x706f6f6c))
          (then (loop $spin (br $spin))))
        ;; "deep"
        (if (i32.eq (local.get $word) (i32.const 0x70656564))
          (then (drop (call $deep (i32.const 0)))))
        ;; "grow"
        (if (i32.eq (local.get $word) (i32.const 0x776f7267))
          (then
            (loop $more
              (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
            unreachable))))
    ;; ok(some("tock"))
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store8 (i32.const 20) (i32.const 1))
    (i32.store (i32.const 24) (i32.const 64))
    (i32.store (i32.const 28) (i32.const 4))
    (i32.const 16))
  (func (export "cabi_post_airssys:component/handler@0.1.0#handle-message") (param i32)
    (global.set $heap (i32.const 1024))))
