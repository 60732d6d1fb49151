;; kind: core
;; An Extism plugin written against Extism's host ABI (`extism:host/env`), the peer in bench/peer.ts.
;; `echo` does what Extism's PDKs do for `input()` / `output()`: it copies the call's input into linear
;; memory (8 bytes at a time, then the tail byte by byte), allocates an output block and stores the bytes
;; back out, then names that block as the output. Returns 0 (success); 1 if the input does not fit in memory.
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)

  (func (export "echo") (result i32)
    (local $len i64) (local $i i64) (local $out i64) (local $pages i32)
    (local.set $len (call $input_length))
    ;; Grow linear memory to hold the input.
    (local.set $pages (i32.wrap_i64 (i64.shr_u (i64.add (local.get $len) (i64.const 65535)) (i64.const 16))))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then (return (i32.const 1))))))

    ;; input → linear memory
    (local.set $i (i64.const 0))
    (block $words_done
      (loop $words
        (br_if $words_done (i64.gt_u (i64.add (local.get $i) (i64.const 8)) (local.get $len)))
        (i64.store (i32.wrap_i64 (local.get $i)) (call $input_load_u64 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 8)))
        (br $words)))
    (block $bytes_done
      (loop $bytes
        (br_if $bytes_done (i64.ge_u (local.get $i) (local.get $len)))
        (i32.store8 (i32.wrap_i64 (local.get $i)) (call $input_load_u8 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $bytes)))

    ;; linear memory → a new output block
    (local.set $out (call $alloc (local.get $len)))
    (local.set $i (i64.const 0))
    (block $out_words_done
      (loop $out_words
        (br_if $out_words_done (i64.gt_u (i64.add (local.get $i) (i64.const 8)) (local.get $len)))
        (call $store_u64 (i64.add (local.get $out) (local.get $i)) (i64.load (i32.wrap_i64 (local.get $i))))
        (local.set $i (i64.add (local.get $i) (i64.const 8)))
        (br $out_words)))
    (block $out_bytes_done
      (loop $out_bytes
        (br_if $out_bytes_done (i64.ge_u (local.get $i) (local.get $len)))
        (call $store_u8 (i64.add (local.get $out) (local.get $i)) (i32.load8_u (i32.wrap_i64 (local.get $i))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $out_bytes)))
    (call $output_set (local.get $out) (local.get $len))
    (i32.const 0)))
