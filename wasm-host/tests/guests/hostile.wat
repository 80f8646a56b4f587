;; Misbehaves according to the first byte of args[0]:
;;   O ok (Response payload "fine")     L infinite loop          M grow memory until it fails, then trap
;;   S unbounded recursion              U unreachable            P call with a pointer outside memory
;;   B a 100 000-byte request           G garbage as Response    E garbage as event
;;   A call after complete              C complete twice         N return 0 without complete
;;   R complete, then return 7          K call a disallowed kind (24) and return the error text
;;   I INVOKE_CHAINCODE with an empty ChaincodeSpec; the answer becomes the Response payload,
;;     with the event "evt" when the status was 1 (callee ERROR)
(module
  ;; @prelude

  (func $recurse (param $n i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))

  (func (export "fabric_run") (result i32)
    (local $txlen i32) (local $aptr i32) (local $alen i32) (local $op i32) (local $r i64)
    (local.set $txlen (call $tx_input))
    (if (i32.lt_s (local.get $txlen) (i32.const 0)) (then (return (i32.const 100))))
    (call $arg (i32.const 1024) (local.get $txlen) (i32.const 0))
    (local.set $alen)
    (local.set $aptr)
    (if (i32.lt_s (local.get $alen) (i32.const 1)) (then (return (i32.const 101))))
    (local.set $op (i32.load8_u (local.get $aptr)))

    (if (i32.eq (local.get $op) (i32.const 0x4f)) ;; O
      (then (return (call $respond (i32.const 112) (i32.const 4) (i32.const 0) (i32.const 0)))))
    (if (i32.eq (local.get $op) (i32.const 0x4c)) ;; L
      (then (loop $l (br $l))))
    (if (i32.eq (local.get $op) (i32.const 0x4d)) ;; M
      (then
        (loop $g
          (br_if $g (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
        unreachable))
    (if (i32.eq (local.get $op) (i32.const 0x53)) ;; S
      (then (return (call $recurse (i32.const 0)))))
    (if (i32.eq (local.get $op) (i32.const 0x55)) ;; U
      (then unreachable))
    (if (i32.eq (local.get $op) (i32.const 0x50)) ;; P
      (then
        (drop (call $call (i32.const 8) (i32.const 0xffffff00) (i32.const 100) (i32.const 16384) (i32.const 16)))
        (return (i32.const 0))))
    (if (i32.eq (local.get $op) (i32.const 0x42)) ;; B
      (then
        (drop (call $call (i32.const 9) (i32.const 0) (i32.const 100000) (i32.const 16384) (i32.const 16)))
        (return (i32.const 0))))
    (if (i32.eq (local.get $op) (i32.const 0x47)) ;; G
      (then
        (drop (call $complete (i32.const 64) (i32.const 4) (i32.const 0) (i32.const 0)))
        (return (i32.const 0))))
    (if (i32.eq (local.get $op) (i32.const 0x45)) ;; E
      (then (return (call $respond (i32.const 112) (i32.const 4) (i32.const 64) (i32.const 4)))))
    (if (i32.eq (local.get $op) (i32.const 0x41)) ;; A
      (then
        (drop (call $respond (i32.const 112) (i32.const 4) (i32.const 0) (i32.const 0)))
        (drop (call $call (i32.const 8) (i32.const 16) (i32.const 3) (i32.const 16384) (i32.const 16)))
        (return (i32.const 0))))
    (if (i32.eq (local.get $op) (i32.const 0x43)) ;; C
      (then
        (drop (call $respond (i32.const 112) (i32.const 4) (i32.const 0) (i32.const 0)))
        (return (call $respond (i32.const 112) (i32.const 4) (i32.const 0) (i32.const 0)))))
    (if (i32.eq (local.get $op) (i32.const 0x4e)) ;; N
      (then (return (i32.const 0))))
    (if (i32.eq (local.get $op) (i32.const 0x52)) ;; R
      (then
        (drop (call $respond (i32.const 112) (i32.const 4) (i32.const 0) (i32.const 0)))
        (return (i32.const 7))))
    (if (i32.eq (local.get $op) (i32.const 0x4b)) ;; K
      (then
        (local.set $r (call $call (i32.const 24) (i32.const 0) (i32.const 0) (i32.const 16384) (i32.const 4096)))
        (if (i64.ne (i64.shr_u (local.get $r) (i64.const 32)) (i64.const 2)) (then (return (i32.const 102))))
        (return (call $respond (i32.const 16384) (i32.wrap_i64 (local.get $r)) (i32.const 0) (i32.const 0)))))
    (if (i32.eq (local.get $op) (i32.const 0x49)) ;; I
      (then
        (local.set $r (call $call (i32.const 11) (i32.const 0) (i32.const 0) (i32.const 16384) (i32.const 4096)))
        (if (i64.eq (i64.shr_u (local.get $r) (i64.const 32)) (i64.const 0))
          (then (return (call $respond (i32.const 16384) (i32.wrap_i64 (local.get $r)) (i32.const 0) (i32.const 0)))))
        (if (i64.eq (i64.shr_u (local.get $r) (i64.const 32)) (i64.const 1))
          (then (return (call $respond (i32.const 16384) (i32.wrap_i64 (local.get $r)) (i32.const 32) (i32.const 8)))))
        (return (i32.const 104))))
    (i32.const 103))
)
