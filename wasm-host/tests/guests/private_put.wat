;; A private data writer: PUT_STATE "k" = args[1] into collection args[0], then completes
;; with Response{200, "ok"} and no event.
(module
  ;; @prelude

  (func (export "fabric_run") (result i32)
    (local $r i64) (local $txlen i32) (local $cptr i32) (local $clen i32)
    (local $vptr i32) (local $vlen i32) (local $d i32)
    (local.set $txlen (call $tx_input))
    (if (i32.lt_s (local.get $txlen) (i32.const 0)) (then (return (i32.const 1))))
    (call $arg (i32.const 1024) (local.get $txlen) (i32.const 0))
    (local.set $clen)
    (local.set $cptr)
    (call $arg (i32.const 1024) (local.get $txlen) (i32.const 1))
    (local.set $vlen)
    (local.set $vptr)
    (if (i32.lt_s (local.get $vlen) (i32.const 0)) (then (return (i32.const 2))))
    ;; PutState{key: "k" (field 1), value (field 2), collection (field 3)}
    (i32.store8 (i32.const 32768) (i32.const 0x0a))
    (i32.store8 (i32.const 32769) (i32.const 1))
    (i32.store8 (i32.const 32770) (i32.const 0x6b))
    (i32.store8 (i32.const 32771) (i32.const 0x12))
    (local.set $d (call $put_varint (i32.const 32772) (local.get $vlen)))
    (memory.copy (local.get $d) (local.get $vptr) (local.get $vlen))
    (local.set $d (i32.add (local.get $d) (local.get $vlen)))
    (i32.store8 (local.get $d) (i32.const 0x1a))
    (local.set $d (call $put_varint (i32.add (local.get $d) (i32.const 1)) (local.get $clen)))
    (memory.copy (local.get $d) (local.get $cptr) (local.get $clen))
    (local.set $d (i32.add (local.get $d) (local.get $clen)))
    (local.set $r (call $call (i32.const 9) (i32.const 32768) (i32.sub (local.get $d) (i32.const 32768))
      (i32.const 20480) (i32.const 0)))
    (if (i64.ne (local.get $r) (i64.const 0)) (then (return (i32.const 4))))
    (call $respond (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
)
