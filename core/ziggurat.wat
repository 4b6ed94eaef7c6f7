;; Standard normal draws for core/rng.ts: the same xoshiro128** stream and
;; Marsaglia–Tsang ziggurat as Rng.fillNormal's JavaScript loop, value for
;; value (tests/rng_test.ts checks every draw and the state after), in about
;; 0.6× its time: the hot path of SG-MCMC and Bayes by Backprop on the CPU,
;; millions of draws per training step.
;;
;; Why by hand: no maintained package generates this stream (the library's
;; definition of its noise, which checkpoints continue), and the loop is
;; short. Build: `deno task build:wasm` writes core/ziggurat_wasm.ts.
;;
;; Memory (set by rng.ts once): KN i32[128] at 0, WN f64[128] at 512,
;; FN f64[128] at 1536, the generator state i32[4] at 2560 (read and written
;; back by `fill`), the output f32[16384] at 4096.
(module
  (import "m" "log" (func $log (param f64) (result f64)))
  (import "m" "exp" (func $exp (param f64) (result f64)))
  (memory (export "mem") 2)
  ;; layout: KN i32[128] @0, WN f64[128] @512, FN f64[128] @1536, state i32[4] @2560, out f32[] @4096
  (global $a (mut i32) (i32.const 0))
  (global $b (mut i32) (i32.const 0))
  (global $c (mut i32) (i32.const 0))
  (global $d (mut i32) (i32.const 0))
  (func $next (result i32)
    (local $r i32) (local $t i32)
    (local.set $r (i32.mul (i32.rotl (i32.mul (global.get $b) (i32.const 5)) (i32.const 7)) (i32.const 9)))
    (local.set $t (i32.shl (global.get $b) (i32.const 9)))
    (global.set $c (i32.xor (global.get $c) (global.get $a)))
    (global.set $d (i32.xor (global.get $d) (global.get $b)))
    (global.set $b (i32.xor (global.get $b) (global.get $c)))
    (global.set $a (i32.xor (global.get $a) (global.get $d)))
    (global.set $c (i32.xor (global.get $c) (local.get $t)))
    (global.set $d (i32.rotl (global.get $d) (i32.const 11)))
    (local.get $r))
  ;; (u + 0.5) / 2^32 for the next unsigned draw
  (func $slow (param $hz i32) (result f64)
    (local $iz i32) (local $x f64) (local $xx f64) (local $yy f64) (local $u f64) (local $f f64)
    (loop $outer
      (local.set $iz (i32.and (local.get $hz) (i32.const 127)))
      (if (i32.lt_s (i32.xor (local.get $hz) (i32.shr_s (local.get $hz) (i32.const 31)))
                    (i32.load (i32.shl (local.get $iz) (i32.const 2))))
        (then (return (f64.mul (f64.convert_i32_s (local.get $hz))
                               (f64.load offset=512 (i32.shl (local.get $iz) (i32.const 3)))))))
      (if (i32.eqz (local.get $iz))
        (then
          (loop $tail
            (local.set $xx (f64.div
              (f64.neg (call $log (f64.div (f64.add (f64.convert_i32_u (call $next)) (f64.const 0.5)) (f64.const 4294967296))))
              (f64.const 3.442619855899)))
            (local.set $yy (f64.neg (call $log (f64.div (f64.add (f64.convert_i32_u (call $next)) (f64.const 0.5)) (f64.const 4294967296)))))
            (br_if $tail (f64.lt (f64.add (local.get $yy) (local.get $yy)) (f64.mul (local.get $xx) (local.get $xx)))))
          (return (select
            (f64.add (f64.const 3.442619855899) (local.get $xx))
            (f64.sub (f64.const -3.442619855899) (local.get $xx))
            (i32.gt_s (local.get $hz) (i32.const 0))))))
      (local.set $x (f64.mul (f64.convert_i32_s (local.get $hz))
                             (f64.load offset=512 (i32.shl (local.get $iz) (i32.const 3)))))
      (local.set $u (f64.div (f64.convert_i32_u (call $next)) (f64.const 4294967296)))
      (local.set $f (f64.load offset=1536 (i32.shl (local.get $iz) (i32.const 3))))
      (if (f64.lt
            (f64.add (local.get $f)
                     (f64.mul (local.get $u)
                              (f64.sub (f64.load offset=1528 (i32.shl (local.get $iz) (i32.const 3))) (local.get $f))))
            (call $exp (f64.mul (f64.mul (f64.const -0.5) (local.get $x)) (local.get $x))))
        (then (return (local.get $x))))
      (local.set $hz (call $next))
      (br $outer))
    (unreachable))
  ;; fills n float32 normals mean + std * z at 4096; state read from and written back to 2560
  (func (export "fill") (param $n i32) (param $mean f64) (param $std f64)
    (local $i i32) (local $p i32) (local $r i32) (local $iz i32) (local $z f64)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32) (local $t i32)
    (local.set $a (i32.load (i32.const 2560)))
    (local.set $b (i32.load (i32.const 2564)))
    (local.set $c (i32.load (i32.const 2568)))
    (local.set $d (i32.load (i32.const 2572)))
    (local.set $p (i32.const 4096))
    (local.set $i (i32.const 0))
    (block $done
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (loop $l
        (local.set $r (i32.mul (i32.rotl (i32.mul (local.get $b) (i32.const 5)) (i32.const 7)) (i32.const 9)))
        (local.set $t (i32.shl (local.get $b) (i32.const 9)))
        (local.set $c (i32.xor (local.get $c) (local.get $a)))
        (local.set $d (i32.xor (local.get $d) (local.get $b)))
        (local.set $b (i32.xor (local.get $b) (local.get $c)))
        (local.set $a (i32.xor (local.get $a) (local.get $d)))
        (local.set $c (i32.xor (local.get $c) (local.get $t)))
        (local.set $d (i32.rotl (local.get $d) (i32.const 11)))
        (local.set $iz (i32.and (local.get $r) (i32.const 127)))
        (if (i32.lt_s (i32.xor (local.get $r) (i32.shr_s (local.get $r) (i32.const 31)))
                      (i32.load (i32.shl (local.get $iz) (i32.const 2))))
          (then
            (local.set $z (f64.mul (f64.convert_i32_s (local.get $r))
                                   (f64.load offset=512 (i32.shl (local.get $iz) (i32.const 3))))))
          (else
            (global.set $a (local.get $a)) (global.set $b (local.get $b))
            (global.set $c (local.get $c)) (global.set $d (local.get $d))
            (local.set $z (call $slow (local.get $r)))
            (local.set $a (global.get $a)) (local.set $b (global.get $b))
            (local.set $c (global.get $c)) (local.set $d (global.get $d))))
        (f32.store (local.get $p)
          (f32.demote_f64 (f64.add (local.get $mean) (f64.mul (local.get $std) (local.get $z)))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_s (local.get $i) (local.get $n)))))
    (i32.store (i32.const 2560) (local.get $a))
    (i32.store (i32.const 2564) (local.get $b))
    (i32.store (i32.const 2568) (local.get $c))
    (i32.store (i32.const 2572) (local.get $d)))
)
