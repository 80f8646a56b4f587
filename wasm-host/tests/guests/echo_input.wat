;; Returns its TxInput as the Response payload and the SignedProposal (call 256) as the
;; payload of the event "sp".
(module
  ;; @prelude

  (func (export "fabric_run") (result i32)
    (local $r i64) (local $txlen i32) (local $splen i32) (local $d i32)
    (local.set $txlen (call $tx_input))
    (if (i32.lt_s (local.get $txlen) (i32.const 0)) (then (return (i32.const 1))))
    (local.set $r (call $call (i32.const 256) (i32.const 0) (i32.const 0) (i32.const 65536) (i32.const 16384)))
    (if (i64.ne (i64.shr_u (local.get $r) (i64.const 32)) (i64.const 0)) (then (return (i32.const 2))))
    (local.set $splen (i32.wrap_i64 (local.get $r)))
    (if (i32.gt_u (local.get $splen) (i32.const 16384)) (then (return (i32.const 3))))
    ;; event at 32768: {event_name "sp", payload <splen> bytes}
    (memory.copy (i32.const 32768) (i32.const 128) (i32.const 5))
    (local.set $d (call $put_varint (i32.const 32773) (local.get $splen)))
    (memory.copy (local.get $d) (i32.const 65536) (local.get $splen))
    (local.set $d (i32.add (local.get $d) (local.get $splen)))
    (call $respond (i32.const 1024) (local.get $txlen)
      (i32.const 32768) (i32.sub (local.get $d) (i32.const 32768))))
)
