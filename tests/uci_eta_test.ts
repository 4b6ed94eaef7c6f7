// The UCI study's whole-run ETA: rows weighted by their expected work, each
// method at its own measured pace, shared among the workers.
import assert from "node:assert/strict";
import { UciEta, uciRowWork } from "../experiments/lib/uci_eta.ts";

const grid = (...epochs: number[]) => epochs.map((e) => ({ epochs: e, settings: {} }));

Deno.test("uciRowWork: grid fits on the inner 80%, the final fit on the whole split per member", () => {
  assert.equal(uciRowWork({ nTrain: 100, epochs: 400 }), 400 * 100);
  assert.equal(uciRowWork({ nTrain: 100, epochs: 400, members: 5 }), 5 * 400 * 100);
  // Two candidates (200 and 400 epochs): tuning 600 epochs on 80 rows, the final fit their mean.
  assert.equal(
    uciRowWork({ nTrain: 100, epochs: 400, candidates: grid(200, 400), members: 2 }),
    600 * 80 + 2 * 300 * 100,
  );
});

Deno.test("UciEta: when row time follows work, the first row predicts the rest exactly", () => {
  // A yacht-sized row first, then rows 10 and 150 times its work (the pool's set-by-set order).
  const rows = [1, 10, 150, 150].map((w, i) => ({ id: `r${i}`, method: "m", work: w }));
  const eta = new UciEta(rows, 1);
  assert.ok(Number.isNaN(eta.secondsLeft()), "no pace before a row finished");
  eta.finish("r0", 3);
  assert.equal(eta.secondsLeft(), 3 * (10 + 150 + 150));
  eta.finish("r1", 30);
  assert.equal(eta.secondsLeft(), 3 * 300);
  // What "seconds per finished row × rows left" would have said after r0: 3 × 3 = 9 s.
  eta.finish("r2", 450);
  eta.finish("r3", 450);
  assert.equal(eta.secondsLeft(), 0);
});

Deno.test("UciEta: each method at its own pace, an unseen one at the run's", () => {
  const rows = [
    { id: "a0", method: "a", work: 10 },
    { id: "b0", method: "b", work: 10 },
    { id: "a1", method: "a", work: 20 },
    { id: "b1", method: "b", work: 20 },
    { id: "c1", method: "c", work: 20 },
  ];
  const eta = new UciEta(rows, 1);
  eta.finish("a0", 10); // 1 s per unit
  eta.finish("b0", 30); // 3 s per unit
  // a1: 20, b1: 60, c1 at the run's pace (40 s / 20 units = 2): 40.
  assert.equal(eta.secondsLeft(), 20 + 60 + 40);
});

Deno.test("UciEta: rows left are shared by the workers, never by more workers than rows", () => {
  const rows = [4, 4, 4, 4].map((w, i) => ({ id: `r${i}`, method: "m", work: w }));
  const eta = new UciEta(rows, 2);
  eta.finish("r0", 4);
  assert.equal(eta.secondsLeft(), 12 / 2);
  eta.finish("r1", 4);
  eta.finish("r2", 4);
  assert.equal(eta.secondsLeft(), 4, "one row left runs on one worker");
});

Deno.test("UciEta: a row without a time leaves the queue without setting a pace", () => {
  const eta = new UciEta([{ id: "x", method: "m", work: 1 }, { id: "y", method: "m", work: 1 }]);
  eta.finish("x", NaN);
  assert.ok(Number.isNaN(eta.secondsLeft()));
  eta.finish("y", 2);
  assert.equal(eta.secondsLeft(), 0);
});

Deno.test("UciEta: bad input is named", () => {
  assert.throws(
    () => new UciEta([{ id: "x", method: "m", work: 1 }, { id: "x", method: "m", work: 1 }]),
    /row "x" given twice/,
  );
  assert.throws(() => new UciEta([], 0), /jobs must be at least 1, found 0/);
  const eta = new UciEta([{ id: "x", method: "m", work: 1 }]);
  assert.throws(() => eta.finish("z", 1), /no unfinished row "z"/);
});
