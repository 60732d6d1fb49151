;; wit: guests/wit/other.wit
;; world: calculator
;; A valid component of an unexpected world (test:other calculator): `add(a, b)` returns a + b (wrapping).
(module
  (func (export "add") (param $a i32) (param $b i32) (result i32)
    (i32.add (local.get $a) (local.get $b))))
