;; kind: core
;; A plain core module, not a component: exports `add(a, b) -> a + b` and a 1-page memory.
(module
  (memory (export "memory") 1)
  (func (export "add") (param $a i32) (param $b i32) (result i32)
    (i32.add (local.get $a) (local.get $b))))
