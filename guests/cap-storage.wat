;; world: storage-processor
;; A processor driven by commands, for the storage capability tests. Input: an op byte, then
;; length-prefixed fields (one length byte each), then the rest:
;;   's' NS KEY VALUE...  set(NS, KEY, VALUE)       -> ok("")
;;   'g' NS KEY           get(NS, KEY)              -> ok(value), or err("no such key")
;;   'd' NS KEY           delete(NS, KEY)           -> ok("")
;;   'k' NS               list-keys(NS)             -> ok(keys joined by "\n")
;;   'l' MESSAGE...       logging.log(info, MESSAGE) -> ok("")
;; A host err(e) becomes err(e). NS is whatever the input says: asking for another component's
;; namespace is how the hostile tests try to escape.
(module
  (import "airssys:component/logging@0.1.0" "log" (func $log (param i32 i32 i32)))
  ;; Every storage import takes its strings as (ptr, len) pairs and writes its result at a return
  ;; pointer: result tag @0 and payload from @4 (err string: ptr @4, len @8).
  (import "airssys:component/storage@0.1.0" "get" (func $get (param i32 i32 i32 i32 i32)))
  (import "airssys:component/storage@0.1.0" "set" (func $set (param i32 i32 i32 i32 i32 i32 i32)))
  (import "airssys:component/storage@0.1.0" "delete" (func $delete (param i32 i32 i32 i32 i32)))
  (import "airssys:component/storage@0.1.0" "list-keys" (func $list_keys (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 512) "no such key")
  (data (i32.const 528) "unknown op")
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
  ;; result<list<u8>, string> is returned through a return area at 16: tag @16, ptr @20, len @24.
  (func $ok (param $ptr i32) (param $len i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (local.get $ptr))
    (i32.store (i32.const 24) (local.get $len))
    (i32.const 16))
  (func $err (param $ptr i32) (param $len i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 1))
    (i32.store (i32.const 20) (local.get $ptr))
    (i32.store (i32.const 24) (local.get $len))
    (i32.const 16))
  ;; The host's err string from the import return area at 48.
  (func $host_err (result i32)
    (call $err (i32.load (i32.const 52)) (i32.load (i32.const 56))))
  ;; list-keys' ok payload at 48: a list of (ptr, len) strings; joins them with "\n" in a fresh buffer.
  (func $join (result i32)
    (local $items i32) (local $count i32) (local $i i32) (local $total i32) (local $out i32) (local $at i32) (local $len i32)
    (local.set $items (i32.load (i32.const 52)))
    (local.set $count (i32.load (i32.const 56)))
    (if (i32.eqz (local.get $count)) (then (return (call $ok (i32.const 0) (i32.const 0)))))
    ;; total = sum of lengths + separators
    (local.set $total (i32.sub (local.get $count) (i32.const 1)))
    ;; (Blocks are unnamed: binaryen warns about the label-name subsection names would add.)
    (block
      (loop
        (br_if 1 (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $total (i32.add (local.get $total)
          (i32.load offset=4 (i32.add (local.get $items) (i32.shl (local.get $i) (i32.const 3))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br 0)))
    (local.set $out (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (local.get $total)))
    (local.set $at (local.get $out))
    (local.set $i (i32.const 0))
    (block
      (loop
        (br_if 1 (i32.ge_u (local.get $i) (local.get $count)))
        (if (i32.gt_u (local.get $i) (i32.const 0))
          (then
            (i32.store8 (local.get $at) (i32.const 10))
            (local.set $at (i32.add (local.get $at) (i32.const 1)))))
        (local.set $len (i32.load offset=4 (i32.add (local.get $items) (i32.shl (local.get $i) (i32.const 3)))))
        (memory.copy (local.get $at)
          (i32.load (i32.add (local.get $items) (i32.shl (local.get $i) (i32.const 3))))
          (local.get $len))
        (local.set $at (i32.add (local.get $at) (local.get $len)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br 0)))
    (call $ok (local.get $out) (local.get $total)))
  (func (export "process") (param $ptr i32) (param $len i32) (result i32)
    (local $op i32) (local $ns i32) (local $ns_len i32) (local $key i32) (local $key_len i32) (local $value i32)
    (if (i32.eqz (local.get $len)) (then (return (call $err (i32.const 528) (i32.const 10)))))
    (local.set $op (i32.load8_u (local.get $ptr)))
    ;; 'l': log the rest at info (level 2).
    (if (i32.eq (local.get $op) (i32.const 108))
      (then
        (call $log (i32.const 2) (i32.add (local.get $ptr) (i32.const 1)) (i32.sub (local.get $len) (i32.const 1)))
        (return (call $ok (i32.const 0) (i32.const 0)))))
    (local.set $ns_len (i32.load8_u offset=1 (local.get $ptr)))
    (local.set $ns (i32.add (local.get $ptr) (i32.const 2)))
    (local.set $key_len (i32.load8_u (i32.add (local.get $ns) (local.get $ns_len))))
    (local.set $key (i32.add (i32.add (local.get $ns) (local.get $ns_len)) (i32.const 1)))
    (local.set $value (i32.add (local.get $key) (local.get $key_len)))
    ;; 's': set
    (if (i32.eq (local.get $op) (i32.const 115))
      (then
        (call $set (local.get $ns) (local.get $ns_len) (local.get $key) (local.get $key_len)
          (local.get $value) (i32.sub (i32.add (local.get $ptr) (local.get $len)) (local.get $value)) (i32.const 48))
        (if (i32.load8_u (i32.const 48)) (then (return (call $host_err))))
        (return (call $ok (i32.const 0) (i32.const 0)))))
    ;; 'g': get; ok payload: option tag @52, list ptr @56, len @60
    (if (i32.eq (local.get $op) (i32.const 103))
      (then
        (call $get (local.get $ns) (local.get $ns_len) (local.get $key) (local.get $key_len) (i32.const 48))
        (if (i32.load8_u (i32.const 48)) (then (return (call $host_err))))
        (if (i32.eqz (i32.load8_u (i32.const 52))) (then (return (call $err (i32.const 512) (i32.const 11)))))
        (return (call $ok (i32.load (i32.const 56)) (i32.load (i32.const 60))))))
    ;; 'd': delete
    (if (i32.eq (local.get $op) (i32.const 100))
      (then
        (call $delete (local.get $ns) (local.get $ns_len) (local.get $key) (local.get $key_len) (i32.const 48))
        (if (i32.load8_u (i32.const 48)) (then (return (call $host_err))))
        (return (call $ok (i32.const 0) (i32.const 0)))))
    ;; 'k': list-keys
    (if (i32.eq (local.get $op) (i32.const 107))
      (then
        (call $list_keys (local.get $ns) (local.get $ns_len) (i32.const 48))
        (if (i32.load8_u (i32.const 48)) (then (return (call $host_err))))
        (return (call $join))))
    (call $err (i32.const 528) (i32.const 10)))
  (func (export "cabi_post_process") (param i32)
    (global.set $heap (i32.const 1024))))
