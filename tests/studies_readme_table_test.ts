// Pasting a study's Markdown output into the README between markers: the block is replaced, a
// second run changes nothing (nor does `deno fmt` after it), and missing markers are errors.
import assert from "node:assert/strict";
import { blockMarkers, nestHeadings, replaceBlock } from "../experiments/lib/readme_block.ts";
import { runScript } from "./_run_script.ts";

const README = [
  "# Title",
  "",
  "Intro.",
  "",
  "<!-- mnist_table:start -->",
  "",
  "_old table_",
  "",
  "<!-- mnist_table:end -->",
  "",
  "## Next section",
  "",
].join("\n");

Deno.test("replaceBlock: replaces between the markers, keeps them, is idempotent", () => {
  const block = "**header**\n\n| a | b |\n| --- | ---: |\n| x | 1 |\n";
  const once = replaceBlock(README, "mnist_table", block);
  const { start, end } = blockMarkers("mnist_table");
  assert.equal(
    once,
    README.replace("_old table_", block.trim()),
  );
  assert.ok(once.startsWith("# Title\n\nIntro.\n\n" + start));
  assert.ok(once.endsWith(`${end}\n\n## Next section\n`));
  assert.equal(replaceBlock(once, "mnist_table", block), once);
  // A different block replaces the first one entirely.
  const twice = replaceBlock(once, "mnist_table", "new\n");
  assert.doesNotMatch(twice, /header|\| x \|/);
  assert.equal(replaceBlock(twice, "mnist_table", block), once);
});

Deno.test("replaceBlock: a block's headings are nested under the section holding the markers", () => {
  const readme = README.replace("Intro.", "### Results");
  const block = "# UCI\n\n## splits\n\n```sh\n# a shell comment\n```\n\n| a |\n";
  const once = replaceBlock(readme, "mnist_table", block);
  assert.match(once, /\n#### UCI\n\n##### splits\n/);
  assert.match(once, /\n# a shell comment\n/); // code fences untouched
  assert.equal(replaceBlock(once, "mnist_table", block), once);
  // already deep enough, no headings, or capped at 6
  assert.equal(nestHeadings("#### x\n", 2), "#### x\n");
  assert.equal(nestHeadings("| a |\n", 3), "| a |\n");
  assert.equal(nestHeadings("# a\n###### b\n", 4), "##### a\n###### b\n");
});

Deno.test("replaceBlock: missing, repeated or reversed markers name the file and the marker", () => {
  assert.throws(
    () => replaceBlock("no markers\n", "mnist_table", "x", "README.md"),
    /README\.md: expected the marker <!-- mnist_table:start --> once, found it nowhere/,
  );
  const { start, end } = blockMarkers("t");
  assert.throws(
    () => replaceBlock(`${start}\n${end}\n${end}\n`, "t", "x", "R"),
    /R: expected the marker <!-- t:end --> once, found it 2 times/,
  );
  assert.throws(
    () => replaceBlock(`${end}\n${start}\n`, "t", "x", "R"),
    /R: the marker <!-- t:end --> comes before <!-- t:start -->/,
  );
  assert.throws(() => blockMarkers("bad name"), /block name must be/);
});

Deno.test("readme_table.ts: pastes the table into a README copy, once; deno fmt keeps it", async () => {
  const dir = await Deno.makeTempDir();
  const readme = `${dir}/README.md`, table = `${dir}/mnist_table.md`;
  await Deno.writeTextFile(readme, README);
  await Deno.writeTextFile(
    table,
    "**MNIST test results** — mode: quick; 2025-01-31.\n\n| method | error % |\n| --- | ---: |\n" +
      "| MAP | 1.58 |\n| BBB Gaussian | 12.30 |\n\n- a note\n",
  );
  const args = [`--table=${table}`, `--readme=${readme}`];
  const first = await runScript("experiments/readme_table.ts", args);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /README\.md: replaced the mnist_table block with .*mnist_table\.md/);
  const text = await Deno.readTextFile(readme);
  assert.doesNotMatch(text, /_old table_/);
  assert.ok(text.includes("\n| MAP          |    1.58 |\n"), text); // aligned, as deno fmt does
  assert.match(text, /## Next section/);
  const second = await runScript("experiments/readme_table.ts", args);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /\(unchanged\)/);
  assert.equal(await Deno.readTextFile(readme), text);
  const fmt = await new Deno.Command(Deno.execPath(), { args: ["fmt", "--check", readme] })
    .output();
  assert.equal(fmt.code, 0, new TextDecoder().decode(fmt.stderr));

  await Deno.writeTextFile(readme, "# no markers\n");
  const bad = await runScript("experiments/readme_table.ts", args);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /README\.md: expected the marker <!-- mnist_table:start --> once/);
  assert.equal(await Deno.readTextFile(readme), "# no markers\n");
  const missing = await runScript("experiments/readme_table.ts", [
    `--table=${dir}/none.md`,
    `--readme=${readme}`,
  ]);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /--table .*none\.md: cannot read it/);
  // --if_present: a table not made yet leaves its block (and the file) as it is, exit code 0;
  // missing markers are still an error.
  await Deno.writeTextFile(readme, README);
  const absent = [`--table=${dir}/none.md`, `--readme=${readme}`, "--if_present"];
  const skipped = await runScript("experiments/readme_table.ts", absent);
  assert.equal(skipped.code, 0, skipped.stderr);
  assert.match(skipped.stderr, /left the mnist_table block as it is: .*none\.md is not there/);
  assert.equal(await Deno.readTextFile(readme), README);
  const present = await runScript("experiments/readme_table.ts", [...args, "--if_present"]);
  assert.equal(present.code, 0, present.stderr);
  assert.match(present.stdout, /replaced the mnist_table block/);
  await Deno.writeTextFile(readme, "# no markers\n");
  const noMarkers = await runScript("experiments/readme_table.ts", absent);
  assert.equal(noMarkers.code, 2, noMarkers.stderr);
  assert.match(noMarkers.stderr, /expected the marker <!-- mnist_table:start --> once/);
  await Deno.remove(dir, { recursive: true });
});
