import { describe, expect, it } from "vitest";
import { checkSyntax } from "../src/answer/check.js";

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
