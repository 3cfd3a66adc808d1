import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type TreeSitter from "tree-sitter";

// Every answer is rated from its syntax tree, in every caro process that shows one: `caro check`, a
// request from the command line, the shell's session client, and the daemon's checks. So the parser's
// start is paid per process. tree-sitter's native binding loads and parses in a few milliseconds.
// It ships prebuilt (N-API) for Linux, macOS and Windows on x64 and arm64, but the Linux x64 one
// needs GCC 13's libstdc++: on older systems (Debian 12) npm compiles it at install, which takes a
// C++ toolchain. So it is an optional dependency, and where it is missing or will not load (no
// toolchain, musl, other CPUs) the same grammar compiled to WASM serves instead; that costs about
// 80 ms of compiling and a slower first parse in each process. test/syntax.test.ts checks that both
// give the same trees.

export type Tree = TreeSitter.Tree;
export type Node = TreeSitter.SyntaxNode;

interface BashParser {
  parse(text: string): Tree | null;
}

const require = createRequire(import.meta.url);
let parserReady: Promise<BashParser> | undefined;

/** The native parser, or null when its binary does not load on this machine. */
function nativeParser(): BashParser | null {
  try {
    const Parser: typeof TreeSitter = require("tree-sitter");
    const parser = new Parser();
    parser.setLanguage(bashLanguage(Parser));
    return parser;
  } catch {
    return null;
  }
}

/**
 * tree-sitter-bash's language, loaded the quick way: about 10 of the 21 ms its usual load cost
 * each `caro check`. Its index.js finds the binary with node-gyp-build (a directory search) and
 * parses the grammar's 51 KB node-types.json, and tree-sitter's setLanguage then writes a class per
 * node type from that JSON, with a getter per field, unless the language already has them. caro
 * reads only what every node has (type, text, children, fields by name), so each type gets the
 * plain SyntaxNode class, and the binary is the one node-gyp-build would pick: a local build, or
 * else the prebuilt one. Anything unexpected takes the usual way.
 */
function bashLanguage(Parser: typeof TreeSitter): TreeSitter.Language {
  let language: TreeSitter.Language & { nodeSubclasses?: unknown };
  try {
    const root = dirname(require.resolve("tree-sitter-bash/package.json"));
    const built = join(root, "build", "Release", "tree_sitter_bash_binding.node");
    const prebuilt = join(root, "prebuilds", `${process.platform}-${process.arch}`, "tree-sitter-bash.node");
    language = require(existsSync(built) ? built : prebuilt);
  } catch {
    return require("tree-sitter-bash");
  }
  const plain = (Parser as unknown as { SyntaxNode: unknown }).SyntaxNode;
  language.nodeSubclasses = new Proxy([], { get: () => plain });
  return language;
}

/** The WASM parser: the same grammar, through web-tree-sitter. */
export async function wasmParser(): Promise<BashParser> {
  // V8 would compile tree-sitter's WASM twice, the second time optimised in the background, and
  // hold the exit until that finished: about 2 s of CPU for a rating that takes a millisecond.
  // The baseline compiler alone parses a command line just as fast for our purposes.
  const { setFlagsFromString } = await import("node:v8");
  setFlagsFromString("--liftoff-only");
  const { Language, Parser } = await import("web-tree-sitter");
  await Parser.init();
  const language = await Language.load(require.resolve("tree-sitter-bash/tree-sitter-bash.wasm"));
  const parser = new Parser();
  parser.setLanguage(language);
  // The two bindings' trees have the same shape (type, text, indexes, children, fields), which is
  // all caro reads; the native one's types name it.
  return parser as unknown as BashParser;
}

export function bashParser(): Promise<BashParser> {
  parserReady ??= Promise.resolve(nativeParser() ?? wasmParser());
  return parserReady;
}

export async function parseBash(command: string, parser?: BashParser): Promise<Tree> {
  const tree = (parser ?? (await bashParser())).parse(command);
  if (!tree) throw new Error("tree-sitter returned no tree");
  return tree;
}

/**
 * Parses `command` and hands its tree to `use`, then frees it. A WASM tree stays in WASM memory
 * until deleted (about 5 KB a parse, for the life of a daemon or session client); the native
 * binding's trees are the garbage collector's and have no delete.
 */
export async function withTree<T>(
  command: string,
  use: (tree: Tree) => T | Promise<T>,
  parser?: BashParser,
): Promise<T> {
  const tree = await parseBash(command, parser);
  try {
    return await use(tree);
  } finally {
    (tree as { delete?: () => void }).delete?.();
  }
}
