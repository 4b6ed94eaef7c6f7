/**
 * The kernel language: per-parameter math written once, compiled to a
 * JavaScript loop (CPU engine) and to a WGSL compute shader (WebGPU engine).
 *
 * Why by hand: every inference method needs a handful of fused
 * per-parameter updates (reparametrised sampling, KL gradients, SGD / Adam,
 * SGLD / SGHMC steps) over millions of weights. As chains of tfjs ops they
 * cost a dispatch per op on a GPU and a single-threaded pass per op on the
 * CPU; written twice by hand (JS and WGSL) the two copies drift apart. No
 * library compiles one elementwise description to both targets, so this
 * module does, for a deliberately small language:
 *
 * ```text
 * let x = expr;            immutable local        var y = expr;   mutable local
 * y = expr;  y += expr;    assignment (also -=, *=)
 * if (cond) { … } else { … }
 * for s in samples { … }   loop over the run's samples; per-sample arrays are indexed a[s]
 * total += expr;           accumulate a declared sum (per segment, returned by the run)
 * ```
 *
 * Expressions: numbers, names, `+ - * /`, comparisons, `&& || !`,
 * parentheses and the functions `sqrt exp log abs min max pow clamp sign
 * select(f, t, cond) sigmoid softplus log1p f32`. Every value is a float
 * (`f32(x)` rounds to float32, as stored: the CPU computes in doubles).
 *
 * Names are declared by the kernel: per-parameter `inputs` (read), `inouts`
 * (updated in place), `outputs` (new tensors), `normals` (standard normal
 * draws), `uniforms` (draws in [0, 1)), `scalars` (numbers shared by a
 * segment), and `sums`. A trailing
 * `[]` marks a per-sample array (a leading samples dimension); a trailing
 * `?` an optional input that reads as 1 when absent (`?0`: as 0).
 *
 * @module
 */

/** A kernel as written by a method: names and the body. */
export interface KernelSpec {
  /** Name, for error messages and shader caching. */
  name: string;
  /** Per-parameter vectors read (`g[]`: one per sample; `keep?`: optional, 1 when absent; `acc?0`: 0). */
  inputs?: readonly string[];
  /** Per-parameter vectors updated in place. */
  inouts?: readonly string[];
  /** Per-parameter vectors written into new tensors (`w[]`: one per sample). */
  outputs?: readonly string[];
  /** Standard normal draws, one per parameter (`eps[]`: one per parameter and sample). */
  normals?: readonly string[];
  /** Uniform draws in [0, 1), one per parameter (`u[]`: one per parameter and sample). */
  uniforms?: readonly string[];
  /** Numbers shared by the parameters of a segment. */
  scalars?: readonly string[];
  /** Sums over each segment's parameters, accumulated with `name += expr;`. */
  sums?: readonly string[];
  /** The per-parameter math. */
  body: string;
}

/** Raised for a kernel that does not parse or uses an undeclared name. */
export class KernelError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "KernelError";
  }
}

/** How a name may be used in a body. */
export type NameKind =
  | "input"
  | "inout"
  | "output"
  | "normal"
  | "uniform"
  | "scalar"
  | "sum"
  | "let"
  | "var"
  | "loop";

/** A declared per-parameter argument. */
export interface KernelArg {
  /** Name without the `[]` / `?` marks. */
  name: string;
  /** Role (`normal` and `uniform` are random draws). */
  kind: "input" | "inout" | "output" | "normal" | "uniform";
  /** One value per sample (a leading samples dimension). */
  perSample: boolean;
  /** Optional input. */
  optional: boolean;
  /** What an absent optional input reads as (`keep?` 1, `acc?0` 0). */
  fallback: number;
}

/** Expression tree. */
export type Expr =
  | { t: "num"; v: number }
  | { t: "name"; name: string }
  | { t: "index"; name: string; index: string }
  | { t: "call"; fn: string; args: Expr[] }
  | { t: "un"; op: "-" | "!"; e: Expr }
  | { t: "bin"; op: string; a: Expr; b: Expr };

/** Statement tree. */
export type Stmt =
  | { t: "let" | "var"; name: string; e: Expr }
  | { t: "set"; name: string; index?: string; op: "=" | "+=" | "-=" | "*="; e: Expr }
  | { t: "if"; cond: Expr; then: Stmt[]; else?: Stmt[] }
  | { t: "for"; v: string; body: Stmt[] };

/** A parsed, checked kernel. */
export interface Kernel {
  /** The spec it was made from. */
  readonly spec: KernelSpec;
  /** Per-parameter arguments in declaration order (inputs, inouts, outputs, normals). */
  readonly args: readonly KernelArg[];
  /** Scalar names. */
  readonly scalars: readonly string[];
  /** Sum names. */
  readonly sums: readonly string[];
  /** The body. */
  readonly body: readonly Stmt[];
  /** Whether any per-sample array or loop is used. */
  readonly usesSamples: boolean;
  /**
   * Outputs whose every value the kernel writes, so an engine need not clear
   * them first: each one-per-parameter output (it starts at 0), and each
   * per-sample output set with `=` directly in a top-level sample loop.
   */
  readonly writesAll: ReadonlySet<string>;
}

/** Functions of the language and their arity. */
export const KERNEL_FUNCTIONS: Readonly<Record<string, number>> = {
  sqrt: 1,
  exp: 1,
  log: 1,
  abs: 1,
  sign: 1,
  sigmoid: 1,
  softplus: 1,
  log1p: 1,
  f32: 1,
  min: 2,
  max: 2,
  pow: 2,
  clamp: 3,
  select: 3,
};

const KEYWORDS = new Set(["let", "var", "if", "else", "for", "in", "samples"]);

interface Token {
  k: "num" | "id" | "op";
  v: string;
  pos: number;
}

function tokenize(src: string, kname: string): Token[] {
  const out: Token[] = [];
  const re =
    /\s+|\/\/[^\n]*|(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(\+=|-=|\*=|<=|>=|==|!=|&&|\|\||[-+*/<>=!(){}\[\];,])/y;
  let pos = 0;
  while (pos < src.length) {
    re.lastIndex = pos;
    const m = re.exec(src);
    if (!m) {
      throw new KernelError(
        `kernel ${kname}: unexpected character "${src[pos]}" at ${lineCol(src, pos)}`,
      );
    }
    if (m[1] !== undefined) out.push({ k: "num", v: m[1], pos });
    else if (m[2] !== undefined) out.push({ k: "id", v: m[2], pos });
    else if (m[3] !== undefined) out.push({ k: "op", v: m[3], pos });
    pos = re.lastIndex;
  }
  return out;
}

function lineCol(src: string, pos: number): string {
  const before = src.slice(0, pos).split("\n");
  return `line ${before.length}, column ${before[before.length - 1].length + 1}`;
}

class Parser {
  #i = 0;
  constructor(readonly toks: Token[], readonly src: string, readonly kname: string) {}

  fail(msg: string, tok: Token | undefined = this.toks[this.#i]): never {
    const where = tok ? lineCol(this.src, tok.pos) : "end of body";
    throw new KernelError(`kernel ${this.kname}: ${msg} at ${where}`);
  }
  peek(v?: string): Token | undefined {
    const t = this.toks[this.#i];
    if (v !== undefined && (!t || t.v !== v)) return undefined;
    return t;
  }
  next(): Token {
    const t = this.toks[this.#i++];
    if (!t) this.fail("unexpected end of body");
    return t;
  }
  expect(v: string): Token {
    const t = this.next();
    if (t.v !== v) this.fail(`expected "${v}", found "${t.v}"`, t);
    return t;
  }
  ident(): string {
    const t = this.next();
    if (t.k !== "id" || KEYWORDS.has(t.v)) this.fail(`expected a name, found "${t.v}"`, t);
    return t.v;
  }
  done(): boolean {
    return this.#i >= this.toks.length;
  }

  stmts(untilBrace: boolean): Stmt[] {
    const out: Stmt[] = [];
    while (!this.done() && !(untilBrace && this.peek("}"))) out.push(this.stmt());
    return out;
  }
  block(): Stmt[] {
    this.expect("{");
    const s = this.stmts(true);
    this.expect("}");
    return s;
  }
  stmt(): Stmt {
    const t = this.peek()!;
    if (t.v === "let" || t.v === "var") {
      this.next();
      const name = this.ident();
      this.expect("=");
      const e = this.expr();
      this.expect(";");
      return { t: t.v, name, e };
    }
    if (t.v === "if") {
      this.next();
      this.expect("(");
      const cond = this.expr();
      this.expect(")");
      const then = this.block();
      let els: Stmt[] | undefined;
      if (this.peek("else")) {
        this.next();
        els = this.peek("if") ? [this.stmt()] : this.block();
      }
      return { t: "if", cond, then, else: els };
    }
    if (t.v === "for") {
      this.next();
      const v = this.ident();
      this.expect("in");
      this.expect("samples");
      return { t: "for", v, body: this.block() };
    }
    const name = this.ident();
    let index: string | undefined;
    if (this.peek("[")) {
      this.next();
      index = this.ident();
      this.expect("]");
    }
    const op = this.next();
    if (!["=", "+=", "-=", "*="].includes(op.v)) {
      this.fail(`expected an assignment after "${name}", found "${op.v}"`, op);
    }
    const e = this.expr();
    this.expect(";");
    return { t: "set", name, index, op: op.v as "=" | "+=" | "-=" | "*=", e };
  }

  expr(): Expr {
    return this.binary(0);
  }
  static PREC: Record<string, number> = {
    "||": 1,
    "&&": 2,
    "<": 3,
    ">": 3,
    "<=": 3,
    ">=": 3,
    "==": 3,
    "!=": 3,
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
  };
  binary(minPrec: number): Expr {
    let a = this.unary();
    for (;;) {
      const t = this.peek();
      const p = t && t.k === "op" ? Parser.PREC[t.v] : undefined;
      if (p === undefined || p <= minPrec) return a;
      this.next();
      const b = this.binary(p);
      a = { t: "bin", op: t!.v, a, b };
    }
  }
  unary(): Expr {
    const t = this.peek();
    if (t && (t.v === "-" || t.v === "!")) {
      this.next();
      return { t: "un", op: t.v as "-" | "!", e: this.unary() };
    }
    return this.primary();
  }
  primary(): Expr {
    const t = this.next();
    if (t.k === "num") return { t: "num", v: Number(t.v) };
    if (t.v === "(") {
      const e = this.expr();
      this.expect(")");
      return e;
    }
    if (t.k !== "id" || KEYWORDS.has(t.v)) this.fail(`unexpected "${t.v}"`, t);
    if (this.peek("(")) {
      this.next();
      const args: Expr[] = [];
      if (!this.peek(")")) {
        args.push(this.expr());
        while (this.peek(",")) {
          this.next();
          args.push(this.expr());
        }
      }
      this.expect(")");
      const arity = KERNEL_FUNCTIONS[t.v];
      if (arity === undefined) {
        this.fail(
          `unknown function "${t.v}" (have ${Object.keys(KERNEL_FUNCTIONS).join(", ")})`,
          t,
        );
      }
      if (args.length !== arity) {
        this.fail(`${t.v} takes ${arity} argument(s), found ${args.length}`, t);
      }
      return { t: "call", fn: t.v, args };
    }
    if (this.peek("[")) {
      this.next();
      const index = this.ident();
      this.expect("]");
      return { t: "index", name: t.v, index };
    }
    return { t: "name", name: t.v };
  }
}

function parseArgName(raw: string, kind: KernelArg["kind"], kname: string): KernelArg {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(\[\])?(\?(-?\d+(?:\.\d+)?)?)?$/.exec(raw);
  if (!m) throw new KernelError(`kernel ${kname}: bad argument name "${raw}"`);
  if (m[3] && kind !== "input") {
    throw new KernelError(`kernel ${kname}: only inputs can be optional ("${raw}")`);
  }
  if (m[3] && m[2]) {
    throw new KernelError(`kernel ${kname}: per-sample inputs cannot be optional ("${raw}")`);
  }
  return {
    name: m[1],
    kind,
    perSample: Boolean(m[2]),
    optional: Boolean(m[3]),
    fallback: m[4] !== undefined ? Number(m[4]) : 1,
  };
}

/**
 * Parses and checks a kernel: every name declared once, used as declared
 * (per-sample arrays only indexed by a loop variable, sums only
 * accumulated, inputs never assigned), booleans only where conditions go.
 *
 * @example
 * ```ts
 * import { defineKernel } from "./kernel.ts";
 * const sgd = defineKernel({
 *   name: "sgd",
 *   inouts: ["p"],
 *   inputs: ["g"],
 *   scalars: ["lr"],
 *   body: "p -= lr * g;",
 * });
 * ```
 */
export function defineKernel(spec: KernelSpec): Kernel {
  const k = spec.name;
  const args: KernelArg[] = [
    ...(spec.inputs ?? []).map((n) => parseArgName(n, "input", k)),
    ...(spec.inouts ?? []).map((n) => parseArgName(n, "inout", k)),
    ...(spec.outputs ?? []).map((n) => parseArgName(n, "output", k)),
    ...(spec.normals ?? []).map((n) => parseArgName(n, "normal", k)),
    ...(spec.uniforms ?? []).map((n) => parseArgName(n, "uniform", k)),
  ];
  for (const a of args) {
    if (a.perSample && a.kind === "inout") {
      throw new KernelError(
        `kernel ${k}: per-sample arrays cannot be updated in place (${a.name})`,
      );
    }
  }
  const scope = new Map<string, { kind: NameKind; perSample?: boolean }>();
  const declare = (name: string, kind: NameKind, perSample = false) => {
    if (KEYWORDS.has(name) || name in KERNEL_FUNCTIONS) {
      throw new KernelError(`kernel ${k}: "${name}" is a reserved word`);
    }
    if (scope.has(name)) throw new KernelError(`kernel ${k}: "${name}" is declared twice`);
    scope.set(name, { kind, perSample });
  };
  for (const a of args) declare(a.name, a.kind, a.perSample);
  for (const s of spec.scalars ?? []) declare(s, "scalar");
  for (const s of spec.sums ?? []) declare(s, "sum");
  const body = new Parser(tokenize(spec.body, k), spec.body, k).stmts(false);
  let usesSamples = args.some((a) => a.perSample);
  const checkExpr = (e: Expr, loops: Set<string>, want: "f" | "b"): void => {
    const type = exprType(e, loops);
    if (type !== want) {
      throw new KernelError(
        `kernel ${k}: expected a ${want === "f" ? "number" : "condition"} but found a ${
          type === "f" ? "number" : "condition"
        } in ${show(e)}`,
      );
    }
  };
  const exprType = (e: Expr, loops: Set<string>): "f" | "b" => {
    switch (e.t) {
      case "num":
        return "f";
      case "name": {
        const d = scope.get(e.name);
        if (!d) throw new KernelError(`kernel ${k}: unknown name "${e.name}"`);
        if (d.kind === "sum") {
          throw new KernelError(`kernel ${k}: sum "${e.name}" can only be accumulated`);
        }
        if (d.kind === "loop") {
          throw new KernelError(`kernel ${k}: loop variable "${e.name}" is only an index`);
        }
        if (d.kind === "output" && !d.perSample) return "f";
        if (d.perSample) {
          throw new KernelError(
            `kernel ${k}: per-sample "${e.name}" must be indexed, e.g. ${e.name}[s]`,
          );
        }
        return "f";
      }
      case "index": {
        const d = scope.get(e.name);
        if (!d) throw new KernelError(`kernel ${k}: unknown name "${e.name}"`);
        if (!d.perSample) throw new KernelError(`kernel ${k}: "${e.name}" is not per-sample`);
        if (d.kind === "output") {
          throw new KernelError(`kernel ${k}: per-sample output "${e.name}" cannot be read`);
        }
        if (!loops.has(e.index)) {
          throw new KernelError(
            `kernel ${k}: "${e.name}[${e.index}]": index must be a loop variable (for ${e.index} in samples)`,
          );
        }
        return "f";
      }
      case "call": {
        if (e.fn === "select") {
          checkExpr(e.args[0], loops, "f");
          checkExpr(e.args[1], loops, "f");
          checkExpr(e.args[2], loops, "b");
        } else for (const a of e.args) checkExpr(a, loops, "f");
        return "f";
      }
      case "un":
        checkExpr(e.e, loops, e.op === "-" ? "f" : "b");
        return e.op === "-" ? "f" : "b";
      case "bin": {
        if (e.op === "&&" || e.op === "||") {
          checkExpr(e.a, loops, "b");
          checkExpr(e.b, loops, "b");
          return "b";
        }
        checkExpr(e.a, loops, "f");
        checkExpr(e.b, loops, "f");
        return ["+", "-", "*", "/"].includes(e.op) ? "f" : "b";
      }
    }
  };
  const locals: string[] = [];
  const checkStmts = (stmts: Stmt[], loops: Set<string>) => {
    const mark = locals.length;
    for (const s of stmts) {
      switch (s.t) {
        case "let":
        case "var":
          checkExpr(s.e, loops, "f");
          declare(s.name, s.t);
          locals.push(s.name);
          break;
        case "set": {
          const d = scope.get(s.name);
          if (!d) throw new KernelError(`kernel ${k}: assignment to unknown name "${s.name}"`);
          checkExpr(s.e, loops, "f");
          if (d.kind === "sum") {
            if (s.op !== "+=" && s.op !== "-=") {
              throw new KernelError(`kernel ${k}: sum "${s.name}" takes += or -= only`);
            }
            if (s.index) throw new KernelError(`kernel ${k}: sum "${s.name}" is not indexed`);
            break;
          }
          if (d.kind === "output" && d.perSample) {
            if (!s.index || !loops.has(s.index)) {
              throw new KernelError(
                `kernel ${k}: per-sample output "${s.name}" is written as ${s.name}[s] inside "for s in samples"`,
              );
            }
            if (s.op !== "=") {
              throw new KernelError(`kernel ${k}: per-sample output "${s.name}" takes = only`);
            }
            break;
          }
          if (s.index) throw new KernelError(`kernel ${k}: "${s.name}" is not per-sample`);
          if (!["inout", "output", "var"].includes(d.kind)) {
            throw new KernelError(`kernel ${k}: "${s.name}" (${d.kind}) cannot be assigned`);
          }
          break;
        }
        case "if":
          checkExpr(s.cond, loops, "b");
          checkStmts(s.then, loops);
          if (s.else) checkStmts(s.else, loops);
          break;
        case "for": {
          if (loops.size) throw new KernelError(`kernel ${k}: loops cannot be nested`);
          usesSamples = true;
          declare(s.v, "loop");
          checkStmts(s.body, new Set([s.v]));
          scope.delete(s.v);
          break;
        }
      }
    }
    // Block scoping: locals declared in this block end here.
    for (const name of locals.splice(mark)) scope.delete(name);
  };
  checkStmts(body, new Set());
  const writesAll = new Set(
    args.filter((a) => a.kind === "output" && !a.perSample).map((a) => a.name),
  );
  for (const s of body) {
    if (s.t !== "for") continue;
    for (const b of s.body) {
      if (b.t === "set" && b.index === s.v && b.op === "=") writesAll.add(b.name);
    }
  }
  return {
    spec,
    args,
    scalars: [...(spec.scalars ?? [])],
    sums: [...(spec.sums ?? [])],
    body: withoutDeadLets(body),
    usesSamples,
    writesAll,
  };
}

/** Names an expression reads. */
function reads(e: Expr, out: Set<string>): void {
  switch (e.t) {
    case "name":
      out.add(e.name);
      return;
    case "index":
      out.add(e.name);
      return;
    case "call":
      for (const a of e.args) reads(a, out);
      return;
    case "un":
      reads(e.e, out);
      return;
    case "bin":
      reads(e.a, out);
      reads(e.b, out);
      return;
  }
}

/**
 * Drops `let` bindings nothing reads (snippets shared by several kernels
 * compute values one of them does not use: a prior's log density where only
 * its gradient is needed). Expressions are pure, so this changes no result.
 */
function withoutDeadLets(body: Stmt[]): Stmt[] {
  let current = body;
  for (;;) {
    const used = new Set<string>();
    const walk = (list: readonly Stmt[]) => {
      for (const s of list) {
        if (s.t === "let" || s.t === "var") reads(s.e, used);
        else if (s.t === "set") {
          reads(s.e, used);
          if (s.index) used.add(s.index);
        } else if (s.t === "if") {
          reads(s.cond, used);
          walk(s.then);
          if (s.else) walk(s.else);
        } else if (s.t === "for") walk(s.body);
      }
    };
    walk(current);
    let removed = false;
    const prune = (list: readonly Stmt[]): Stmt[] =>
      list.flatMap((s): Stmt[] => {
        if (s.t === "let" && !used.has(s.name)) {
          removed = true;
          return [];
        }
        if (s.t === "if") return [{ ...s, then: prune(s.then), else: s.else && prune(s.else) }];
        if (s.t === "for") return [{ ...s, body: prune(s.body) }];
        return [s];
      });
    current = prune(current);
    if (!removed) return current;
  }
}

/** Source-like text of an expression (error messages). */
export function show(e: Expr): string {
  switch (e.t) {
    case "num":
      return String(e.v);
    case "name":
      return e.name;
    case "index":
      return `${e.name}[${e.index}]`;
    case "call":
      return `${e.fn}(${e.args.map(show).join(", ")})`;
    case "un":
      return `${e.op}${show(e.e)}`;
    case "bin":
      return `(${show(e.a)} ${e.op} ${show(e.b)})`;
  }
}
