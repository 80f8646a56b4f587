;; GET_STATE "big" with a 16-byte output buffer: the answer is parked, fetched with
;; `take`, and returned as the Response payload. A second `take` must return -1.
(module
  ;; @prelude

  (func (export "fabric_run") (result i32)
    (local $r i64) (local $len i32) (local $n i32)
    (local.set $r (call $call (i32.const 8) (i32.const 80) (i32.const 5) (i32.const 16384) (i32.const 16)))
    (if (i64.ne (i64.shr_u (local.get $r) (i64.const 32)) (i64.const 0)) (then (return (i32.const 1))))
    (local.set $len (i32.wrap_i64 (local.get $r)))
    (if (i32.le_u (local.get $len) (i32.const 16)) (then (return (i32.const 2))))
    (local.set $n (call $take (i32.const 65536)))
    (if (i32.ne (local.get $n) (local.get $len)) (then (return (i32.const 3))))
    (if (i32.ne (call $take (i32.const 65536)) (i32.const -1)) (then (return (i32.const 4))))
    (call $respond (i32.const 65536) (local.get $n) (i32.const 0) (i32.const 0)))
)
