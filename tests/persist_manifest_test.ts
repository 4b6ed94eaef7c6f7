// A saved model's manifest is validated field by field: errors name the file and the field
// (issue 16, item 4), instead of JavaScript errors such as "Cannot read properties of undefined".
import assert from "node:assert/strict";
import { join } from "node:path";
import { ModelFileError, readSaved, WEIGHTS_FILE } from "../core/persist.ts";
import { saveSafetensors } from "../core/safetensors.ts";

const GOOD = {
  format: "bayes-nn/1",
  version: "0.1.0",
  method: "map",
  spec: { inputDim: 2, hidden: [3], outputDim: 2, task: "classification" },
  settings: {},
  state: {},
  info: {},
  savedAt: "2026-01-01T00:00:00.000Z",
};

Deno.test("readSaved: a malformed manifest names the file and the field", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, WEIGHTS_FILE);
  const tensors = { w: { data: new Float32Array([1, 2]), shape: [2] } };
  const cases: [string, RegExp][] = [
    ["{not json", /the manifest is not valid JSON/],
    [JSON.stringify([1]), /manifest field "\(top level\)" must be an object, found \[1\]/],
    [JSON.stringify({ ...GOOD, format: "other/2" }), /field "format" must be "bayes-nn\/1"/],
    [JSON.stringify({ ...GOOD, method: 7 }), /field "method" must be a method name, found 7/],
    [JSON.stringify({ ...GOOD, spec: undefined }), /field "spec" must be a network description/],
    [
      JSON.stringify({ ...GOOD, spec: { ...GOOD.spec, hidden: "3" } }),
      /field "spec\.hidden" must be a list of positive integers, found "3"/,
    ],
    [
      JSON.stringify({ ...GOOD, spec: { ...GOOD.spec, inputDim: 0 } }),
      /field "spec\.inputDim" must be a positive integer, found 0/,
    ],
    [
      JSON.stringify({ ...GOOD, spec: { ...GOOD.spec, task: "ranking" } }),
      /field "spec\.task" must be "classification" or "regression", found "ranking"/,
    ],
    [JSON.stringify({ ...GOOD, state: [] }), /field "state" must be an object, found \[\]/],
  ];
  try {
    for (const [manifest, msg] of cases) {
      await saveSafetensors(path, tensors, { manifest });
      await assert.rejects(
        () => readSaved(dir),
        (e: unknown) =>
          e instanceof ModelFileError && e.message.startsWith(`${path}: `) && msg.test(e.message),
        manifest,
      );
    }
    await saveSafetensors(path, tensors, { manifest: JSON.stringify(GOOD) });
    const { manifest, state } = await readSaved(dir);
    assert.equal(manifest.method, "map");
    assert.deepEqual(state.extra, {});
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
