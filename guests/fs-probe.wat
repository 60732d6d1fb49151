;; world: fs-probe
;; wit: guests/wit/fs-probe.wit
;; A WASI 0.2 guest driven by text commands, for the filesystem and stdio tests. Paths are relative to
;; the first preopened directory (fetched once with get-directories and kept):
;;   "read PATH"        open-at(symlink-follow, PATH, read) + read(64 KiB)   -> ok(bytes)
;;   "write PATH DATA"  open-at(symlink-follow, PATH, create|truncate, write) + write(DATA, 0) -> ok("")
;;   "list PATH"        open-at(PATH, directory, read) + read-directory      -> ok(names, each + "\n")
;;   "stat PATH"        stat-at(symlink-follow, PATH)                         -> ok(type u8, size u64 LE)
;;   "mkdir PATH" / "rm PATH" / "rmdir PATH"  create-directory-at / unlink-file-at / remove-directory-at -> ok("")
;;   "print TEXT"       get-stdout + blocking-write-and-flush(TEXT)           -> ok("")
;;   "symlink TARGET LINK"  symlink-at(TARGET, LINK)                          -> ok("")
;;   "link OLD NEW"     link-at(no-follow, OLD, root, NEW)                    -> ok("")
;;   "linkf OLD NEW"    link-at(symlink-follow, OLD, root, NEW)               -> ok("")
;;   "mv OLD NEW"       rename-at(OLD, root, NEW)                             -> ok("")
;;   "readlink PATH"    readlink-at(PATH)                                     -> ok(contents)
;;   "touch PATH"       set-times-at(no-follow, PATH, atime 1000000000 s, mtime 1234567890.5 s) -> ok("")
;;   "futime PATH"      open-at(PATH, write) + set-times(no-change, mtime 1234567890 s) -> ok("")
;;   "flags PATH"       open-at(PATH, create, write|file-integrity-sync|data-integrity-sync) + get-flags
;;                      -> ok(the descriptor-flags byte)
;; A WASI error-code becomes err(its name, e.g. "not-permitted"). PATH is whatever the input says.
(module
  (import "wasi:filesystem/preopens@0.2.12" "get-directories" (func $get_directories (param i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]descriptor.open-at" (func $open_at (param i32 i32 i32 i32 i32 i32 i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]descriptor.read" (func $read (param i32 i64 i64 i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]descriptor.write" (func $write (param i32 i32 i32 i64 i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]descriptor.read-directory" (func $read_directory (param i32 i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]directory-entry-stream.read-directory-entry" (func $read_entry (param i32 i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]descriptor.stat-at" (func $stat_at (param i32 i32 i32 i32 i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]descriptor.create-directory-at" (func $mkdir (param i32 i32 i32 i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]descriptor.unlink-file-at" (func $unlink (param i32 i32 i32 i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]descriptor.remove-directory-at" (func $rmdir (param i32 i32 i32 i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]descriptor.symlink-at" (func $symlink_at (param i32 i32 i32 i32 i32 i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]descriptor.link-at" (func $link_at (param i32 i32 i32 i32 i32 i32 i32 i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]descriptor.rename-at" (func $rename_at (param i32 i32 i32 i32 i32 i32 i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]descriptor.readlink-at" (func $readlink_at (param i32 i32 i32 i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]descriptor.set-times-at" (func $set_times_at (param i32 i32 i32 i32 i32 i64 i32 i32 i64 i32 i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]descriptor.set-times" (func $set_times (param i32 i32 i64 i32 i32 i64 i32 i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]descriptor.get-flags" (func $get_flags (param i32 i32)))
  (import "wasi:filesystem/types@0.2.12" "[resource-drop]descriptor" (func $drop_descriptor (param i32)))
  (import "wasi:filesystem/types@0.2.12" "[resource-drop]directory-entry-stream" (func $drop_entries (param i32)))
  (import "wasi:cli/stdout@0.2.12" "get-stdout" (func $get_stdout (result i32)))
  (import "wasi:io/streams@0.2.12" "[method]output-stream.blocking-write-and-flush" (func $write_and_flush (param i32 i32 i32 i32)))
  (import "wasi:io/streams@0.2.12" "[resource-drop]output-stream" (func $drop_output (param i32)))
  (memory (export "memory") 1)
  ;; error-code names by case index, 24-byte slots: length byte, then the name.
  (data (i32.const 256) "\06access\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\0bwould-block\00\00\00\00\00\00\00\00\00\00\00\00"
    "\07already\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\0ebad-descriptor\00\00\00\00\00\00\00\00\00"
    "\04busy\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\08deadlock\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\05quota\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\05exist\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\0efile-too-large\00\00\00\00\00\00\00\00\00"
    "\15illegal-byte-sequence\00\00"
    "\0bin-progress\00\00\00\00\00\00\00\00\00\00\00\00"
    "\0binterrupted\00\00\00\00\00\00\00\00\00\00\00\00"
    "\07invalid\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\02io\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\0cis-directory\00\00\00\00\00\00\00\00\00\00\00"
    "\04loop\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\0etoo-many-links\00\00\00\00\00\00\00\00\00"
    "\0cmessage-size\00\00\00\00\00\00\00\00\00\00\00"
    "\0dname-too-long\00\00\00\00\00\00\00\00\00\00"
    "\09no-device\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\08no-entry\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\07no-lock\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\13insufficient-memory\00\00\00\00"
    "\12insufficient-space\00\00\00\00\00"
    "\0dnot-directory\00\00\00\00\00\00\00\00\00\00"
    "\09not-empty\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\0fnot-recoverable\00\00\00\00\00\00\00\00"
    "\0bunsupported\00\00\00\00\00\00\00\00\00\00\00\00"
    "\06no-tty\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\0eno-such-device\00\00\00\00\00\00\00\00\00"
    "\08overflow\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\0dnot-permitted\00\00\00\00\00\00\00\00\00\00"
    "\04pipe\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\09read-only\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\0cinvalid-seek\00\00\00\00\00\00\00\00\00\00\00"
    "\0etext-file-busy\00\00\00\00\00\00\00\00\00"
    "\0ccross-device\00\00\00\00\00\00\00\00\00\00\00")
  (data (i32.const 1200) "read ")
  (data (i32.const 1208) "write ")
  (data (i32.const 1216) "list ")
  (data (i32.const 1224) "print ")
  (data (i32.const 1232) "mkdir ")
  (data (i32.const 1240) "rm ")
  (data (i32.const 1248) "stat ")
  (data (i32.const 1256) "unknown command")
  (data (i32.const 1280) "no preopened directory")
  (data (i32.const 1312) "stream error")
  (data (i32.const 1328) "rmdir ")
  (data (i32.const 1344) "symlink ")
  (data (i32.const 1360) "link ")
  (data (i32.const 1368) "readlink ")
  (data (i32.const 1384) "mv ")
  (data (i32.const 1392) "touch ")
  (data (i32.const 1400) "futime ")
  (data (i32.const 1408) "flags ")
  (data (i32.const 1416) "linkf ")
  ;; The first preopen's descriptor (an owned handle), once fetched.
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
  ;; err(name of error-code `code`).
  (func $code_err (param $code i32) (result i32)
    (local $slot i32)
    (local.set $slot (i32.add (i32.const 256) (i32.mul (local.get $code) (i32.const 24))))
    (call $err (i32.add (local.get $slot) (i32.const 1)) (i32.load8_u (local.get $slot))))
  ;; Does the input (ptr, len) start with the literal (lit, n)?
  (func $starts (param $ptr i32) (param $len i32) (param $lit i32) (param $n i32) (result i32)
    (local $i i32)
    (if (i32.lt_u (local.get $len) (local.get $n)) (then (return (i32.const 0))))
    (block
      (loop
        (br_if 1 (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $ptr) (local.get $i))) (i32.load8_u (i32.add (local.get $lit) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br 0)))
    (i32.const 1))
  ;; The first preopened directory, or -1 when there is none.
  (func $root (result i32)
    (if (i32.eq (global.get $root) (i32.const -1))
      (then
        ;; list<tuple<descriptor, string>>: ptr @64, len @68; each element: handle @0, name @4/@8.
        (call $get_directories (i32.const 64))
        (if (i32.load (i32.const 68))
          (then (global.set $root (i32.load (i32.load (i32.const 64))))))))
    (global.get $root))
  ;; open-at(root, symlink-follow, path, open-flags, flags): the descriptor, or -1 - error-code.
  (func $open (param $root i32) (param $path i32) (param $len i32) (param $oflags i32) (param $flags i32) (result i32)
    (call $open_at (local.get $root) (i32.const 1) (local.get $path) (local.get $len) (local.get $oflags) (local.get $flags) (i32.const 64))
    (if (i32.load8_u (i32.const 64))
      (then (return (i32.sub (i32.const -1) (i32.load8_u (i32.const 68))))))
    (i32.load (i32.const 68)))
  (func $cmd_read (param $root i32) (param $path i32) (param $len i32) (result i32)
    (local $fd i32) (local $ptr i32) (local $n i32)
    (local.set $fd (call $open (local.get $root) (local.get $path) (local.get $len) (i32.const 0) (i32.const 1)))
    (if (i32.lt_s (local.get $fd) (i32.const 0))
      (then (return (call $code_err (i32.sub (i32.const -1) (local.get $fd))))))
    ;; result<tuple<list<u8>, bool>, error-code>: tag @64, list @68/@72 or code @68.
    (call $read (local.get $fd) (i64.const 65536) (i64.const 0) (i32.const 64))
    (if (i32.load8_u (i32.const 64))
      (then
        (call $drop_descriptor (local.get $fd))
        (return (call $code_err (i32.load8_u (i32.const 68))))))
    (local.set $ptr (i32.load (i32.const 68)))
    (local.set $n (i32.load (i32.const 72)))
    (call $drop_descriptor (local.get $fd))
    (call $ok (local.get $ptr) (local.get $n)))
  (func $cmd_write (param $root i32) (param $ptr i32) (param $len i32) (result i32)
    (local $fd i32) (local $i i32) (local $data i32)
    ;; PATH ends at the first space; DATA is the rest.
    (block
      (loop
        (br_if 1 (i32.ge_u (local.get $i) (local.get $len)))
        (br_if 1 (i32.eq (i32.load8_u (i32.add (local.get $ptr) (local.get $i))) (i32.const 32)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br 0)))
    (local.set $data (i32.add (local.get $i) (i32.const 1)))
    (if (i32.gt_u (local.get $data) (local.get $len)) (then (local.set $data (local.get $len))))
    ;; create | truncate, write
    (local.set $fd (call $open (local.get $root) (local.get $ptr) (local.get $i) (i32.const 9) (i32.const 2)))
    (if (i32.lt_s (local.get $fd) (i32.const 0))
      (then (return (call $code_err (i32.sub (i32.const -1) (local.get $fd))))))
    ;; result<filesize, error-code>: tag @64, code @72.
    (call $write (local.get $fd) (i32.add (local.get $ptr) (local.get $data)) (i32.sub (local.get $len) (local.get $data)) (i64.const 0) (i32.const 64))
    (call $drop_descriptor (local.get $fd))
    (if (i32.load8_u (i32.const 64))
      (then (return (call $code_err (i32.load8_u (i32.const 72))))))
    (call $ok (i32.const 0) (i32.const 0)))
  (func $cmd_list (param $root i32) (param $path i32) (param $len i32) (result i32)
    (local $fd i32) (local $entries i32) (local $out i32) (local $at i32) (local $n i32)
    ;; directory, read
    (local.set $fd (call $open (local.get $root) (local.get $path) (local.get $len) (i32.const 2) (i32.const 1)))
    (if (i32.lt_s (local.get $fd) (i32.const 0))
      (then (return (call $code_err (i32.sub (i32.const -1) (local.get $fd))))))
    (call $read_directory (local.get $fd) (i32.const 64))
    (if (i32.load8_u (i32.const 64))
      (then
        (call $drop_descriptor (local.get $fd))
        (return (call $code_err (i32.load8_u (i32.const 68))))))
    (local.set $entries (i32.load (i32.const 68)))
    (local.set $out (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16384)))
    (local.set $at (local.get $out))
    (block
      (loop
        ;; result<option<directory-entry>, error-code>: tag @64, code @68; option tag @68, name @76/@80.
        (call $read_entry (local.get $entries) (i32.const 64))
        (if (i32.load8_u (i32.const 64))
          (then
            (call $drop_entries (local.get $entries))
            (call $drop_descriptor (local.get $fd))
            (return (call $code_err (i32.load8_u (i32.const 68))))))
        (br_if 1 (i32.eqz (i32.load8_u (i32.const 68))))
        (local.set $n (i32.load (i32.const 80)))
        (br_if 1 (i32.gt_u (i32.add (i32.sub (local.get $at) (local.get $out)) (i32.add (local.get $n) (i32.const 1))) (i32.const 16384)))
        (memory.copy (local.get $at) (i32.load (i32.const 76)) (local.get $n))
        (local.set $at (i32.add (local.get $at) (local.get $n)))
        (i32.store8 (local.get $at) (i32.const 10))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (br 0)))
    (call $drop_entries (local.get $entries))
    (call $drop_descriptor (local.get $fd))
    (call $ok (local.get $out) (i32.sub (local.get $at) (local.get $out))))
  (func $cmd_stat (param $root i32) (param $path i32) (param $len i32) (result i32)
    (local $out i32)
    ;; result<descriptor-stat, error-code>: tag @64, code @72; type @72, size @88.
    (call $stat_at (local.get $root) (i32.const 1) (local.get $path) (local.get $len) (i32.const 64))
    (if (i32.load8_u (i32.const 64))
      (then (return (call $code_err (i32.load8_u (i32.const 72))))))
    (local.set $out (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 9)))
    (i32.store8 (local.get $out) (i32.load8_u (i32.const 72)))
    (i64.store (i32.add (local.get $out) (i32.const 1)) (i64.load (i32.const 88)))
    (call $ok (local.get $out) (i32.const 9)))
  ;; result<_, error-code> of create-directory-at / unlink-file-at / remove-directory-at at 64: tag @64, code @65.
  (func $unit_result (result i32)
    (if (i32.load8_u (i32.const 64))
      (then (return (call $code_err (i32.load8_u (i32.const 65))))))
    (call $ok (i32.const 0) (i32.const 0)))
  ;; The index of the first space in (ptr, len), or len.
  (func $space (param $ptr i32) (param $len i32) (result i32)
    (local $i i32)
    (block
      (loop
        (br_if 1 (i32.ge_u (local.get $i) (local.get $len)))
        (br_if 1 (i32.eq (i32.load8_u (i32.add (local.get $ptr) (local.get $i))) (i32.const 32)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br 0)))
    (local.get $i))
  ;; "A B" -> (A, B) at 32: ptr A @32, len A @36, ptr B @40, len B @44 (B empty when there is no space).
  (func $split (param $ptr i32) (param $len i32)
    (local $i i32) (local $b i32)
    (local.set $i (call $space (local.get $ptr) (local.get $len)))
    (local.set $b (i32.add (local.get $i) (i32.const 1)))
    (if (i32.gt_u (local.get $b) (local.get $len)) (then (local.set $b (local.get $len))))
    (i32.store (i32.const 32) (local.get $ptr))
    (i32.store (i32.const 36) (local.get $i))
    (i32.store (i32.const 40) (i32.add (local.get $ptr) (local.get $b)))
    (i32.store (i32.const 44) (i32.sub (local.get $len) (local.get $b))))
  (func $cmd_readlink (param $root i32) (param $path i32) (param $len i32) (result i32)
    ;; result<string, error-code>: tag @64, string @68/@72 or code @68.
    (call $readlink_at (local.get $root) (local.get $path) (local.get $len) (i32.const 64))
    (if (i32.load8_u (i32.const 64))
      (then (return (call $code_err (i32.load8_u (i32.const 68))))))
    (call $ok (i32.load (i32.const 68)) (i32.load (i32.const 72))))
  (func $cmd_futime (param $root i32) (param $path i32) (param $len i32) (result i32)
    (local $fd i32)
    ;; write
    (local.set $fd (call $open (local.get $root) (local.get $path) (local.get $len) (i32.const 0) (i32.const 2)))
    (if (i32.lt_s (local.get $fd) (i32.const 0))
      (then (return (call $code_err (i32.sub (i32.const -1) (local.get $fd))))))
    ;; access: no-change; modification: timestamp(1234567890, 0)
    (call $set_times (local.get $fd) (i32.const 0) (i64.const 0) (i32.const 0) (i32.const 2) (i64.const 1234567890) (i32.const 0) (i32.const 64))
    (call $drop_descriptor (local.get $fd))
    (call $unit_result))
  (func $cmd_flags (param $root i32) (param $path i32) (param $len i32) (result i32)
    (local $fd i32) (local $out i32)
    ;; create; write | file-integrity-sync | data-integrity-sync
    (local.set $fd (call $open (local.get $root) (local.get $path) (local.get $len) (i32.const 1) (i32.const 14)))
    (if (i32.lt_s (local.get $fd) (i32.const 0))
      (then (return (call $code_err (i32.sub (i32.const -1) (local.get $fd))))))
    ;; result<descriptor-flags, error-code>: tag @64, flags or code @65.
    (call $get_flags (local.get $fd) (i32.const 64))
    (call $drop_descriptor (local.get $fd))
    (if (i32.load8_u (i32.const 64))
      (then (return (call $code_err (i32.load8_u (i32.const 65))))))
    (local.set $out (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 1)))
    (i32.store8 (local.get $out) (i32.load8_u (i32.const 65)))
    (call $ok (local.get $out) (i32.const 1)))
  (func $cmd_print (param $text i32) (param $len i32) (result i32)
    (local $out i32)
    (local.set $out (call $get_stdout))
    ;; result<_, stream-error>: tag @64.
    (call $write_and_flush (local.get $out) (local.get $text) (local.get $len) (i32.const 64))
    (call $drop_output (local.get $out))
    (if (i32.load8_u (i32.const 64)) (then (return (call $err (i32.const 1312) (i32.const 12)))))
    (call $ok (i32.const 0) (i32.const 0)))
  (func (export "process") (param $ptr i32) (param $len i32) (result i32)
    (local $root i32)
    (if (call $starts (local.get $ptr) (local.get $len) (i32.const 1224) (i32.const 6))
      (then (return (call $cmd_print (i32.add (local.get $ptr) (i32.const 6)) (i32.sub (local.get $len) (i32.const 6))))))
    (local.set $root (call $root))
    (if (i32.eq (local.get $root) (i32.const -1)) (then (return (call $err (i32.const 1280) (i32.const 22)))))
    (if (call $starts (local.get $ptr) (local.get $len) (i32.const 1200) (i32.const 5))
      (then (return (call $cmd_read (local.get $root) (i32.add (local.get $ptr) (i32.const 5)) (i32.sub (local.get $len) (i32.const 5))))))
    (if (call $starts (local.get $ptr) (local.get $len) (i32.const 1208) (i32.const 6))
      (then (return (call $cmd_write (local.get $root) (i32.add (local.get $ptr) (i32.const 6)) (i32.sub (local.get $len) (i32.const 6))))))
    (if (call $starts (local.get $ptr) (local.get $len) (i32.const 1216) (i32.const 5))
      (then (return (call $cmd_list (local.get $root) (i32.add (local.get $ptr) (i32.const 5)) (i32.sub (local.get $len) (i32.const 5))))))
    (if (call $starts (local.get $ptr) (local.get $len) (i32.const 1248) (i32.const 5))
      (then (return (call $cmd_stat (local.get $root) (i32.add (local.get $ptr) (i32.const 5)) (i32.sub (local.get $len) (i32.const 5))))))
    (if (call $starts (local.get $ptr) (local.get $len) (i32.const 1232) (i32.const 6))
      (then
        (call $mkdir (local.get $root) (i32.add (local.get $ptr) (i32.const 6)) (i32.sub (local.get $len) (i32.const 6)) (i32.const 64))
        (return (call $unit_result))))
    (if (call $starts (local.get $ptr) (local.get $len) (i32.const 1328) (i32.const 6))
      (then
        (call $rmdir (local.get $root) (i32.add (local.get $ptr) (i32.const 6)) (i32.sub (local.get $len) (i32.const 6)) (i32.const 64))
        (return (call $unit_result))))
    (if (call $starts (local.get $ptr) (local.get $len) (i32.const 1344) (i32.const 8))
      (then
        (call $split (i32.add (local.get $ptr) (i32.const 8)) (i32.sub (local.get $len) (i32.const 8)))
        (call $symlink_at (local.get $root) (i32.load (i32.const 32)) (i32.load (i32.const 36)) (i32.load (i32.const 40)) (i32.load (i32.const 44)) (i32.const 64))
        (return (call $unit_result))))
    (if (call $starts (local.get $ptr) (local.get $len) (i32.const 1360) (i32.const 5))
      (then
        (call $split (i32.add (local.get $ptr) (i32.const 5)) (i32.sub (local.get $len) (i32.const 5)))
        (call $link_at (local.get $root) (i32.const 0) (i32.load (i32.const 32)) (i32.load (i32.const 36)) (local.get $root) (i32.load (i32.const 40)) (i32.load (i32.const 44)) (i32.const 64))
        (return (call $unit_result))))
    (if (call $starts (local.get $ptr) (local.get $len) (i32.const 1416) (i32.const 6))
      (then
        (call $split (i32.add (local.get $ptr) (i32.const 6)) (i32.sub (local.get $len) (i32.const 6)))
        (call $link_at (local.get $root) (i32.const 1) (i32.load (i32.const 32)) (i32.load (i32.const 36)) (local.get $root) (i32.load (i32.const 40)) (i32.load (i32.const 44)) (i32.const 64))
        (return (call $unit_result))))
    (if (call $starts (local.get $ptr) (local.get $len) (i32.const 1384) (i32.const 3))
      (then
        (call $split (i32.add (local.get $ptr) (i32.const 3)) (i32.sub (local.get $len) (i32.const 3)))
        (call $rename_at (local.get $root) (i32.load (i32.const 32)) (i32.load (i32.const 36)) (local.get $root) (i32.load (i32.const 40)) (i32.load (i32.const 44)) (i32.const 64))
        (return (call $unit_result))))
    (if (call $starts (local.get $ptr) (local.get $len) (i32.const 1368) (i32.const 9))
      (then (return (call $cmd_readlink (local.get $root) (i32.add (local.get $ptr) (i32.const 9)) (i32.sub (local.get $len) (i32.const 9))))))
    (if (call $starts (local.get $ptr) (local.get $len) (i32.const 1392) (i32.const 6))
      (then
        ;; atime timestamp(1000000000, 0), mtime timestamp(1234567890, 500000000)
        (call $set_times_at (local.get $root) (i32.const 0) (i32.add (local.get $ptr) (i32.const 6)) (i32.sub (local.get $len) (i32.const 6))
          (i32.const 2) (i64.const 1000000000) (i32.const 0) (i32.const 2) (i64.const 1234567890) (i32.const 500000000) (i32.const 64))
        (return (call $unit_result))))
    (if (call $starts (local.get $ptr) (local.get $len) (i32.const 1400) (i32.const 7))
      (then (return (call $cmd_futime (local.get $root) (i32.add (local.get $ptr) (i32.const 7)) (i32.sub (local.get $len) (i32.const 7))))))
    (if (call $starts (local.get $ptr) (local.get $len) (i32.const 1408) (i32.const 6))
      (then (return (call $cmd_flags (local.get $root) (i32.add (local.get $ptr) (i32.const 6)) (i32.sub (local.get $len) (i32.const 6))))))
    (if (call $starts (local.get $ptr) (local.get $len) (i32.const 1240) (i32.const 3))
      (then
        (call $unlink (local.get $root) (i32.add (local.get $ptr) (i32.const 3)) (i32.sub (local.get $len) (i32.const 3)) (i32.const 64))
        (return (call $unit_result))))
    (call $err (i32.const 1256) (i32.const 15)))
  (func (export "cabi_post_process") (param i32)
    (global.set $heap (i32.const 4096))))
