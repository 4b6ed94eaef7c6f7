// Models-folder locks (issue 16, item 1) and the removal of temporary files left by killed
// runs (item 3): a folder held by a live process is refused naming the folder and the PID; a
// lock of a dead process is taken over and said so; release removes only our own lock.
import assert from "node:assert/strict";
import { join } from "node:path";
import { removeStaleTemps } from "../core/atomic.ts";
import { acquireDirLock, LOCK_FILE, LockError, processAlive } from "../core/lock.ts";
import { deadPid, lockHolder } from "./_process.ts";

Deno.test("processAlive: this process yes, an exited one no", async () => {
  assert.equal(await processAlive(Deno.pid), true);
  assert.equal(await processAlive(await deadPid()), false);
  assert.equal(await processAlive(-3), false);
});

Deno.test("a folder locked by a live process is refused, naming the folder and the PID", async () => {
  const dir = await Deno.makeTempDir();
  const holder = await lockHolder(dir);
  try {
    await assert.rejects(
      () => acquireDirLock(dir, { what: "--models_dir" }),
      (e: unknown) =>
        e instanceof LockError &&
        e.message.includes(`--models_dir ${dir} is in use by process ${holder.pid}`),
    );
    // Killed without a chance to clean up: the lock file stays, and is stale.
    holder.kill("SIGKILL");
    await holder.status;
    await holder.stdout.cancel().catch(() => {});
    await Deno.stat(join(dir, LOCK_FILE));
    const notes: string[] = [];
    const lock = await acquireDirLock(dir, { what: "--models_dir", log: (l) => notes.push(l) });
    assert.equal(lock.tookOverFrom?.pid, holder.pid);
    assert.equal(notes.length, 1);
    assert.match(notes[0], new RegExp(`took over the lock of process ${holder.pid}`));
    const owner = JSON.parse(await Deno.readTextFile(join(dir, LOCK_FILE)));
    assert.equal(owner.pid, Deno.pid);
    // Held by us: a second acquisition in this process is refused too.
    await assert.rejects(() => acquireDirLock(dir), /already locked by this process/);
    lock.release();
    await assert.rejects(() => Deno.stat(join(dir, LOCK_FILE)), Deno.errors.NotFound);
    lock.release(); // idempotent
  } finally {
    try {
      holder.kill("SIGKILL");
    } catch {
      // already gone
    }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("release leaves a lock that is no longer ours; an unreadable lock is stale", async () => {
  const dir = await Deno.makeTempDir();
  const lock = await acquireDirLock(dir);
  const other = { pid: 1, host: "elsewhere", started: "x", command: "y" };
  await Deno.writeTextFile(join(dir, LOCK_FILE), JSON.stringify(other));
  lock.release();
  assert.deepEqual(JSON.parse(await Deno.readTextFile(join(dir, LOCK_FILE))), other);
  // Another host's lock cannot be checked: refused, with how to clear it.
  await assert.rejects(
    () => acquireDirLock(dir),
    /locked by process 1 on elsewhere .* cannot be checked from this host; if that process has ended, delete/,
  );
  await Deno.writeTextFile(join(dir, LOCK_FILE), "");
  const notes: string[] = [];
  (await acquireDirLock(dir, { log: (l) => notes.push(l) })).release();
  assert.match(notes[0], /took over the lock/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("removeStaleTemps removes temporary files of dead processes only", async () => {
  const dir = await Deno.makeTempDir();
  const dead = await deadPid();
  await Deno.mkdir(join(dir, "samples"));
  const stale = [
    join(dir, `checkpoint.safetensors.tmp-${dead}-123456`),
    join(dir, "samples", `sample_0003.safetensors.tmp-${dead}`),
  ];
  const keep = [
    join(dir, `weights.safetensors.tmp-${Deno.pid}-7`), // a live process (this one)
    join(dir, "notes.tmp-draft"), // not a temporary name
    join(dir, "checkpoint.safetensors"),
  ];
  for (const f of [...stale, ...keep]) await Deno.writeFile(f, new Uint8Array(100));
  const r = await removeStaleTemps(dir);
  assert.deepEqual(r.removed.sort(), stale.sort());
  assert.equal(r.bytes, 200);
  for (const f of keep) await Deno.stat(f);
  await Deno.remove(dir, { recursive: true });
});
