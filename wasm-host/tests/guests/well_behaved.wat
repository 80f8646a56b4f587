;; A well-behaved chaincode: reads its TxInput, GET_STATE "a", PUT_STATE "b" = args[1],
;; logs a line, and completes with Response{200, "ok", payload = value of "a"} and the
;; event {name "evt", payload "p"}.
(module
  ;; @prelude

  (func (export "fabric_run") (result i32)
    (local $r i64) (local $txlen i32) (local $vptr i32) (local $vlen i32) (local $alen i32)
    (local $d i32)
    (local.set $txlen (call $tx_input))
    (if (i32.lt_s (local.get $txlen) (i32.const 0)) (then (return (i32.const 1))))
    (call $arg (i32.const 1024) (local.get $txlen) (i32.const 1))
    (local.set $vlen)
    (local.set $vptr)
    (if (i32.lt_s (local.get $vlen) (i32.const 0)) (then (return (i32.const 2))))
    ;; GET_STATE "a" into 16384 (cap 4096)
    (local.set $r (call $call (i32.const 8) (i32.const 16) (i32.const 3) (i32.const 16384) (i32.const 4096)))
    (if (i64.ne (i64.shr_u (local.get $r) (i64.const 32)) (i64.const 0)) (then (return (i32.const 3))))
    (local.set $alen (i32.wrap_i64 (local.get $r)))
    ;; PUT_STATE "b" = args[1]
    (memory.copy (i32.const 32768) (i32.const 48) (i32.const 4))
    (local.set $d (call $put_varint (i32.const 32772) (local.get $vlen)))
    (memory.copy (local.get $d) (local.get $vptr) (local.get $vlen))
    (local.set $d (i32.add (local.get $d) (local.get $vlen)))
    (local.set $r (call $call (i32.const 9) (i32.const 32768) (i32.sub (local.get $d) (i32.const 32768))
      (i32.const 20480) (i32.const 0)))
    (if (i64.ne (local.get $r) (i64.const 0)) (then (return (i32.const 4))))
    (call $log (i32.const 2) (i32.const 96) (i32.const 5))
    (call $respond (i32.const 16384) (local.get $alen) (i32.const 32) (i32.const 8)))
)
