// core/interrupt.ts in a child process: the first signal aborts a held stop (the process goes
// on), a second one exits with 128 + the signal's number after the clean-ups; with no stop
// held, the first signal exits at once.
import assert from "node:assert/strict";

const MOD = new URL("../core/interrupt.ts", import.meta.url).href;

/** Starts a child that registers a clean-up, optionally holds a stop, and idles. */
async function child(holdStop: boolean) {
  const code = `
    import { interruptible, onSignalExit } from "${MOD}";
    onSignalExit(() => console.log("cleanup"));
    ${
    holdStop
      ? `const stop = interruptible();
         stop.signal.addEventListener("abort", () => console.log("aborted " + stop.signal.reason));`
      : ""
  }
    console.log("ready");
    setInterval(() => {}, 1000);
  `;
  const p = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = p.stdout.getReader();
  const dec = new TextDecoder();
  let out = "";
  const readUntil = async (re: RegExp) => {
    while (!re.test(out)) {
      const { value, done } = await reader.read();
      if (done) break;
      out += dec.decode(value);
    }
    return out;
  };
  await readUntil(/ready/);
  return { p, readUntil, rest: async () => (await readUntil(/$^/), out) };
}

Deno.test({
  name: "interrupt: the first signal aborts a held stop, the second exits 130 after the clean-ups",
  ignore: Deno.build.os === "windows",
  async fn() {
    const { p, readUntil, rest } = await child(true);
    p.kill("SIGINT");
    assert.match(await readUntil(/aborted/), /aborted SIGINT/);
    await new Promise((r) => setTimeout(r, 200));
    p.kill("SIGINT");
    const out = await rest();
    const { code } = await p.status;
    await p.stderr.cancel();
    assert.equal(code, 130);
    assert.match(out, /aborted SIGINT\n(.|\n)*cleanup/);
  },
});

Deno.test({
  name: "interrupt: with no stop held, SIGTERM exits 143 at once after the clean-ups",
  ignore: Deno.build.os === "windows",
  async fn() {
    const { p, rest } = await child(false);
    p.kill("SIGTERM");
    const out = await rest();
    const { code } = await p.status;
    await p.stderr.cancel();
    assert.equal(code, 143);
    assert.match(out, /cleanup/);
    assert.doesNotMatch(out, /aborted/);
  },
});
