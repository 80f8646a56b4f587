  ;; Shared module fields of the test guests: the tests put this text where a guest
  ;; says `;; @prelude`.
  ;;
  ;; Memory layout (2 pages):
  ;;   0..1024       constant data (below)
  ;;   1024..9216    TxInput buffer
  ;;   16384..20480  call output buffer
  ;;   32768..49152  request / event building area
  ;;   49152..65536  response building area
  ;;   65536..       large buffers (take, signed proposal)
  (import "fabric" "call" (func $call (param i32 i32 i32 i32 i32) (result i64)))
  (import "fabric" "take" (func $take (param i32) (result i32)))
  (import "fabric" "complete" (func $complete (param i32 i32 i32 i32) (result i32)))
  (import "fabric" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 2)
  (func (export "fabric_abi_v1"))

  ;; Response{status: 200, message: "ok"} followed by the payload tag (field 3).
  (data (i32.const 0) "\08\c8\01\12\02ok\1a")
  ;; GetState{key: "a"}
  (data (i32.const 16) "\0a\01a")
  ;; ChaincodeEvent{event_name: "evt", payload: "p"}
  (data (i32.const 32) "\1a\03evt\22\01p")
  ;; PutState{key: "b", value: <tag>
  (data (i32.const 48) "\0a\01b\12")
  ;; garbage
  (data (i32.const 64) "\ff\ff\ff\ff")
  ;; GetState{key: "big"}
  (data (i32.const 80) "\0a\03big")
  ;; log text
  (data (i32.const 96) "hello")
  ;; a payload
  (data (i32.const 112) "fine")
  ;; ChaincodeEvent{event_name: "sp", payload: <tag>
  (data (i32.const 128) "\1a\02sp\22")

  (global $pos (mut i32) (i32.const 0))

  ;; Reads a protobuf varint at $pos and advances $pos.
  (func $varint (result i32)
    (local $result i32) (local $shift i32) (local $b i32)
    (loop $l
      (local.set $b (i32.load8_u (global.get $pos)))
      (global.set $pos (i32.add (global.get $pos) (i32.const 1)))
      (local.set $result
        (i32.or (local.get $result)
          (i32.shl (i32.and (local.get $b) (i32.const 0x7f)) (local.get $shift))))
      (local.set $shift (i32.add (local.get $shift) (i32.const 7)))
      (br_if $l (i32.and (local.get $b) (i32.const 0x80))))
    (local.get $result))

  ;; Writes $v as a varint at $dst; returns the address after it.
  (func $put_varint (param $dst i32) (param $v i32) (result i32)
    (loop $l
      (if (i32.ge_u (local.get $v) (i32.const 0x80))
        (then
          (i32.store8 (local.get $dst)
            (i32.or (i32.and (local.get $v) (i32.const 0x7f)) (i32.const 0x80)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
          (local.set $v (i32.shr_u (local.get $v) (i32.const 7)))
          (br $l))))
    (i32.store8 (local.get $dst) (local.get $v))
    (i32.add (local.get $dst) (i32.const 1)))

  ;; Fetches the TxInput into 1024..9216; returns its length or -1.
  (func $tx_input (result i32)
    (local $r i64)
    (local.set $r (call $call (i32.const 5) (i32.const 0) (i32.const 0) (i32.const 1024) (i32.const 8192)))
    (if (i64.ne (i64.shr_u (local.get $r) (i64.const 32)) (i64.const 0))
      (then (return (i32.const -1))))
    (if (i64.gt_u (i64.and (local.get $r) (i64.const 0xffffffff)) (i64.const 8192))
      (then (return (i32.const -1))))
    (i32.wrap_i64 (local.get $r)))

  ;; Finds args[$n] in the TxInput at $buf..$buf+$len: returns (ptr, len), or (0, -1).
  (func $arg (param $buf i32) (param $len i32) (param $n i32) (result i32 i32)
    (local $end i32) (local $tag i32) (local $l i32) (local $iend i32) (local $count i32)
    (global.set $pos (local.get $buf))
    (local.set $end (i32.add (local.get $buf) (local.get $len)))
    (block $done
      (loop $fields
        (br_if $done (i32.ge_u (global.get $pos) (local.get $end)))
        (local.set $tag (call $varint))
        (if (i32.eqz (i32.and (local.get $tag) (i32.const 7)))
          (then (drop (call $varint)) (br $fields)))
        (local.set $l (call $varint))
        (if (i32.eq (local.get $tag) (i32.const 0x1a))
          (then
            ;; field 3: ChaincodeInput; count its field-1 entries (args)
            (local.set $iend (i32.add (global.get $pos) (local.get $l)))
            (loop $inner
              (if (i32.lt_u (global.get $pos) (local.get $iend))
                (then
                  (local.set $tag (call $varint))
                  (if (i32.eqz (i32.and (local.get $tag) (i32.const 7)))
                    (then (drop (call $varint)) (br $inner)))
                  (local.set $l (call $varint))
                  (if (i32.eq (local.get $tag) (i32.const 0x0a))
                    (then
                      (if (i32.eq (local.get $count) (local.get $n))
                        (then (return (global.get $pos) (local.get $l))))
                      (local.set $count (i32.add (local.get $count) (i32.const 1)))))
                  (global.set $pos (i32.add (global.get $pos) (local.get $l)))
                  (br $inner))))
            (return (i32.const 0) (i32.const -1))))
        (global.set $pos (i32.add (global.get $pos) (local.get $l)))
        (br $fields)))
    (i32.const 0) (i32.const -1))

  ;; Completes with Response{200, "ok", payload} and the given event; returns 0.
  (func $respond (param $p i32) (param $n i32) (param $ev i32) (param $evn i32) (result i32)
    (local $d i32)
    (memory.copy (i32.const 49152) (i32.const 0) (i32.const 8))
    (local.set $d (call $put_varint (i32.const 49160) (local.get $n)))
    (memory.copy (local.get $d) (local.get $p) (local.get $n))
    (local.set $d (i32.add (local.get $d) (local.get $n)))
    (drop (call $complete
      (i32.const 49152) (i32.sub (local.get $d) (i32.const 49152))
      (local.get $ev) (local.get $evn)))
    (i32.const 0))
