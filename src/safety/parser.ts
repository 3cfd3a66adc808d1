import { createRequire } from "node:module";
import { setFlagsFromString } from "node:v8";
import { Language, Parser, type Tree } from "web-tree-sitter";

// tree-sitter-bash compiled to WASM: a full syntax tree in well under a millisecond, no native build.
const require = createRequire(import.meta.url);
let parserReady: Promise<Parser> | undefined;

export function bashParser(): Promise<Parser> {
  parserReady ??= (async () => {
    // V8 would compile tree-sitter's WASM twice, the second time optimised in the background, and
    // hold the exit until that finished: about 2 s of CPU for a rating that takes a millisecond.
    // The baseline compiler alone parses a command line just as fast for our purposes. Set here,
    // before the first compile, so that a caro that never rates (--help, --version) skips node:v8.
    setFlagsFromString("--liftoff-only");
    await Parser.init();
    const language = await Language.load(require.resolve("tree-sitter-bash/tree-sitter-bash.wasm"));
    const parser = new Parser();
    parser.setLanguage(language);
    return parser;
  })();
  return parserReady;
}

export async function parseBash(command: string): Promise<Tree> {
  const tree = (await bashParser()).parse(command);
  if (!tree) throw new Error("tree-sitter returned no tree");
  return tree;
}
