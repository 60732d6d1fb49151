;; world: cli-v020
;; wit: guests/wit/cli-v020.wit
;; WASI 0.2.0's environment and exit: process(input) answers ok([number of arguments, number of
;; variables]); an input starting with "X" calls exit(err) instead.
(module
  (import "wasi:cli/environment@0.2.0" "get-environment" (func $get_environment (param i32)))
  (import "wasi:cli/environment@0.2.0" "get-arguments" (func $get_arguments (param i32)))
  (import "wasi:cli/exit@0.2.0" "exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
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
  (func (export "process") (param $ptr i32) (param $len i32) (result i32)
    (if (i32.and (i32.ne (local.get $len) (i32.const 0)) (i32.eq (i32.load8_u (local.get $ptr)) (i32.const 0x58)))
      (then (call $exit (i32.const 1)) (unreachable)))
    (call $get_arguments (i32.const 32))
    (call $get_environment (i32.const 40))
    (i32.store8 (i32.const 48) (i32.load (i32.const 36)))
    (i32.store8 (i32.const 49) (i32.load (i32.const 44)))
    ;; result<list<u8>, string> at 16: tag @16, ptr @20, len @24.
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (i32.const 48))
    (i32.store (i32.const 24) (i32.const 2))
    (i32.const 16))
  (func (export "cabi_post_process") (param i32)
    (global.set $heap (i32.const 4096))))
