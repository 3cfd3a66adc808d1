import { createRequire } from "node:module";
import { Language, Parser, type Tree } from "web-tree-sitter";

// tree-sitter-bash compiled to WASM: a full syntax tree in well under a millisecond, no native build.
const require = createRequire(import.meta.url);
let parserReady: Promise<Parser> | undefined;

export function bashParser(): Promise<Parser> {
  parserReady ??= (async () => {
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
