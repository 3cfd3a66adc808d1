// An unusable answer is asked for once more, then refused with one line that says why.

import { describe, expect, it } from "vitest";
import { caro, makeHome, modelConfig } from "./helpers/caro.js";

describe("an answer that does not parse as shell", () => {
  it("is retried once, then a clear error, exit 1", async () => {
    const { env } = makeHome(modelConfig("unparsable"));
    const result = await caro(["--json", "list", "files"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(
      /^caro: the model gave no usable command in 2 tries: .* does not parse as bash near column \d+; rephrase/,
    );
  });

  it("is judged by fish itself when the shell is fish", async () => {
    const { env } = makeHome(modelConfig("unparsable"));
    const result = await caro(["--shell", "fish", "list", "files"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/no usable command in 2 tries: .* does not parse as fish: /);
  });
});
