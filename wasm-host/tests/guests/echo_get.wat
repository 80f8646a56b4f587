;; GET_STATE args[0] and return the value as the Response payload.
(module
  ;; @prelude

  (func (export "fabric_run") (result i32)
    (local $r i64) (local $txlen i32) (local $kptr i32) (local $klen i32) (local $d i32)
    (local.set $txlen (call $tx_input))
    (if (i32.lt_s (local.get $txlen) (i32.const 0)) (then (return (i32.const 1))))
    (call $arg (i32.const 1024) (local.get $txlen) (i32.const 0))
    (local.set $klen)
    (local.set $kptr)
    (if (i32.lt_s (local.get $klen) (i32.const 0)) (then (return (i32.const 2))))
    (i32.store8 (i32.const 32768) (i32.const 0x0a))
    (local.set $d (call $put_varint (i32.const 32769) (local.get $klen)))
    (memory.copy (local.get $d) (local.get $kptr) (local.get $klen))
    (local.set $d (i32.add (local.get $d) (local.get $klen)))
    (local.set $r (call $call (i32.const 8) (i32.const 32768) (i32.sub (local.get $d) (i32.const 32768))
      (i32.const 16384) (i32.const 4096)))
    (if (i64.ne (i64.shr_u (local.get $r) (i64.const 32)) (i64.const 0)) (then (return (i32.const 3))))
    (call $respond (i32.const 16384) (i32.wrap_i64 (local.get $r)) (i32.const 0) (i32.const 0)))
)
