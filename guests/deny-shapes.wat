;; world: deny-shapes
;; wit: guests/wit/deny-shapes.wit
;; Calls one WASI function per input's first byte, for the deny stubs' messages:
;;   "s"  wasi:sockets/tcp-create-socket.create-tcp-socket(ipv4): result<tcp-socket, error-code>
;;   "x"  wasi:cli/exit.exit(err): no result
;;   "e"  wasi:cli/environment.get-environment: a list, no result type
;; and answers ok("") when the call returns; for "s", ok(8 bytes): create-tcp-socket's result as the guest
;; got it (tag byte, 3 bytes padding, then the socket handle or the error-code's case index, u32 LE).
(module
  (import "wasi:sockets/tcp-create-socket@0.2.12" "create-tcp-socket" (func $create_tcp_socket (param i32 i32)))
  (import "wasi:cli/exit@0.2.12" "exit" (func $exit (param i32)))
  (import "wasi:cli/environment@0.2.12" "get-environment" (func $get_environment (param i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (func $realloc (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $p i32)
    (local.set $p
      (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
        (i32.xor (i32.sub (local.get $align) (i32.const 1)) (i32.const -1))))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (local.get $p))
  (func (export "process") (param $ptr i32) (param $len i32) (result i32)
    (local $op i32)
    (local.set $op (i32.load8_u (local.get $ptr)))
    (if (i32.eq (local.get $op) (i32.const 0x73))
      (then
        (call $create_tcp_socket (i32.const 0) (i32.const 32))
        (i32.store8 (i32.const 16) (i32.const 0))
        (i32.store (i32.const 20) (i32.const 32))
        (i32.store (i32.const 24) (i32.const 8))
        (return (i32.const 16))))
    (if (i32.eq (local.get $op) (i32.const 0x78)) (then (call $exit (i32.const 1))))
    (if (i32.eq (local.get $op) (i32.const 0x65)) (then (call $get_environment (i32.const 32))))
    ;; result<list<u8>, string> at 16: ok("").
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (i32.const 0))
    (i32.store (i32.const 24) (i32.const 0))
    (i32.const 16))
  (func (export "cabi_post_process") (param i32)
    (global.set $heap (i32.const 4096))))
