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
 * `block` with its Markdown headings (`#` … outside code fences) moved
 * down so that the highest becomes level `parent + 1`: a study's output,
 * whose title is `#`, pasted under a `###` section of a README gets `####`.
 * Headings already deep enough, and blocks without headings, are returned
 * unchanged; levels stop at 6.
 *
 * @example
 * ```ts
 * import { nestHeadings } from "./readme_block.ts";
 * nestHeadings("# Title\n\n## Part\n\ntext\n", 3); // "#### Title\n\n##### Part\n\ntext\n"
 * ```
 */
export function nestHeadings(block: string, parent: number): string {
  const lines = block.split("\n");
  let fence = false;
  const levels: (number | null)[] = lines.map((l) => {
    if (/^\s*(```|~~~)/.test(l)) fence = !fence;
    const m = fence ? null : /^(#{1,6})\s/.exec(l);
    return m ? m[1].length : null;
  });
  const top = Math.min(...levels.filter((v): v is number => v !== null));
  const shift = Number.isFinite(top) ? Math.max(0, parent + 1 - top) : 0;
  if (shift === 0) return block;
  return lines.map((l, i) => {
    const lv = levels[i];
    return lv === null ? l : "#".repeat(Math.min(6, lv + shift)) + l.slice(lv);
  }).join("\n");
}

/** Level of the last ATX heading of `text` outside code fences (0 when none). */
function lastHeadingLevel(text: string): number {
  let fence = false, level = 0;
  for (const l of text.split("\n")) {
    if (/^\s*(```|~~~)/.test(l)) fence = !fence;
    const m = fence ? null : /^(#{1,6})\s/.exec(l);
    if (m) level = m[1].length;
  }
  return level;
}

/**
 * `text` with the block between the markers of `name` replaced by `block`
 * (set off by one blank line on each side), its headings nested under the
 * last heading before the start marker ({@linkcode nestHeadings}). Throws a `RangeError` naming
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
  const body = nestHeadings(block.trim(), lastHeadingLevel(text.slice(0, s[0])));
  return `${text.slice(0, s[0] + start.length)}\n\n${body}${body ? "\n\n" : ""}${text.slice(e[0])}`;
}
