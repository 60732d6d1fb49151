;; world: fs-actor
;; wit: guests/wit/fs-actor.wit
;; An actor that reads a file through the WASI 0.2 filesystem, for the cluster's runner-group tests:
;; handle-message(payload = PATH, relative to the first preopened directory) replies ok(some(the file's
;; first 64 KiB)), err("no preopened directory") without one, err("cannot read") when the host refuses.
(module
  (import "wasi:filesystem/preopens@0.2.12" "get-directories" (func $get_directories (param i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]descriptor.open-at" (func $open_at (param i32 i32 i32 i32 i32 i32 i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]descriptor.read" (func $read (param i32 i64 i64 i32)))
  (import "wasi:filesystem/types@0.2.12" "[resource-drop]descriptor" (func $drop_descriptor (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 128) "no preopened directory") ;; 22 bytes
  (data (i32.const 160) "cannot read") ;; 11 bytes
  ;; The first preopen's descriptor, once fetched.
  (global $root (mut i32) (i32.const -1))
  ;; Bump allocator; the heap is reset by post-return, so every call starts clean.
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
  ;; result<option<list<u8>>, string> in a return area at 16: tag @16, option tag @20, list @24/@28; err @20/@24.
  (func $err (param $ptr i32) (param $len i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 1))
    (i32.store (i32.const 20) (local.get $ptr))
    (i32.store (i32.const 24) (local.get $len))
    (i32.const 16))
  (func (export "airssys:component/handler@0.1.0#handle-message")
    (param $sender_ptr i32) (param $sender_len i32)
    (param $topic_disc i32) (param $topic_ptr i32) (param $topic_len i32)
    (param $corr_disc i32) (param $corr i64)
    (param $payload_ptr i32) (param $payload_len i32)
    (result i32)
    (local $fd i32)
    (if (i32.eq (global.get $root) (i32.const -1))
      (then
        ;; list<tuple<descriptor, string>>: ptr @64, len @68; each element: handle @0, name @4/@8.
        (call $get_directories (i32.const 64))
        (if (i32.load (i32.const 68))
          (then (global.set $root (i32.load (i32.load (i32.const 64))))))))
    (if (i32.eq (global.get $root) (i32.const -1))
      (then (return (call $err (i32.const 128) (i32.const 22)))))
    ;; open-at(root, symlink-follow, path, no open flags, read): result<descriptor, error-code> @64, handle @68.
    (call $open_at (global.get $root) (i32.const 1) (local.get $payload_ptr) (local.get $payload_len) (i32.const 0) (i32.const 1) (i32.const 64))
    (if (i32.load8_u (i32.const 64))
      (then (return (call $err (i32.const 160) (i32.const 11)))))
    (local.set $fd (i32.load (i32.const 68)))
    ;; result<tuple<list<u8>, bool>, error-code>: tag @64, list @68/@72.
    (call $read (local.get $fd) (i64.const 65536) (i64.const 0) (i32.const 64))
    (call $drop_descriptor (local.get $fd))
    (if (i32.load8_u (i32.const 64))
      (then (return (call $err (i32.const 160) (i32.const 11)))))
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store8 (i32.const 20) (i32.const 1))
    (i32.store (i32.const 24) (i32.load (i32.const 68)))
    (i32.store (i32.const 28) (i32.load (i32.const 72)))
    (i32.const 16))
  (func (export "cabi_post_airssys:component/handler@0.1.0#handle-message") (param i32)
    (global.set $heap (i32.const 4096))))
