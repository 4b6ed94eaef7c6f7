/**
 * Replaces a generated block of a Markdown file between two HTML comment
 * markers, `<!-- NAME:start -->` and `<!-- NAME:end -->`, so a README's
 * result table is pasted from a study's output instead of by hand. The
 * markers stay; everything between them is replaced; applying the same
 * block twice changes nothing.
 *
 * @module
 */

/**
 * The start and end markers of block `name`.
 *
 * @example
 * ```ts
 * import { blockMarkers } from "./readme_block.ts";
 * blockMarkers("mnist_table").start; // "<!-- mnist_table:start -->"
 * ```
 */
export function blockMarkers(name: string): { start: string; end: string } {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw new RangeError(`block name must be letters, digits, _, . or -, found "${name}"`);
  }
  return { start: `<!-- ${name}:start -->`, end: `<!-- ${name}:end -->` };
}

/** Where `marker` occurs in `text` (all positions). */
function positions(text: string, marker: string): number[] {
  const out: number[] = [];
  for (let i = text.indexOf(marker); i >= 0; i = text.indexOf(marker, i + 1)) out.push(i);
  return out;
}

/**
 * `text` with the block between the markers of `name` replaced by `block`
 * (set off by one blank line on each side). Throws a `RangeError` naming
 * `what` (e.g. the file) when a marker is missing, repeated, or the end
 * comes before the start.
 *
 * @example
 * ```ts
 * import { replaceBlock } from "./readme_block.ts";
 * const readme = "# T\n<!-- t:start -->\nold\n<!-- t:end -->\nrest\n";
 * replaceBlock(readme, "t", "| a |\n"); // "# T\n<!-- t:start -->\n\n| a |\n\n<!-- t:end -->\nrest\n"
 * ```
 */
export function replaceBlock(text: string, name: string, block: string, what = "the text"): string {
  const { start, end } = blockMarkers(name);
  const s = positions(text, start), e = positions(text, end);
  const where = (m: string, n: number) =>
    `${what}: expected the marker ${m} once, found it ${n === 0 ? "nowhere" : `${n} times`}`;
  if (s.length !== 1) throw new RangeError(where(start, s.length));
  if (e.length !== 1) throw new RangeError(where(end, e.length));
  if (e[0] < s[0]) throw new RangeError(`${what}: the marker ${end} comes before ${start}`);
  const body = block.trim();
  return `${text.slice(0, s[0] + start.length)}\n\n${body}${body ? "\n\n" : ""}${text.slice(e[0])}`;
}
