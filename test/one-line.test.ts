// The embedded backend's one-line constraint: which requests get it, the prompt it asks with, the
// grammar llama.cpp holds the model to, and the line handed on as the command itself.

import { getLlama, LlamaChatSession, LlamaLogLevel } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { draftOf, draftSchema } from "../src/answer/draft.js";
import { lineGrammar, oneLineRequest } from "../src/backends/one-line.js";
import { phaseLine } from "../src/cli/generate-command.js";
import { StreamedCommand } from "../src/shell/streamed-command.js";
import { buildPrompt } from "../src/prompt/build.js";
import { detectContext } from "../src/prompt/context.js";
import { testModelPath } from "./helpers/models.js";

const prompt = buildPrompt(detectContext("bash", "/tmp"), "list files");

describe("oneLineRequest", () => {
  it("asks for the command alone, with the examples' commands unwrapped from their JSON", () => {
    const line = oneLineRequest(prompt, draftSchema(false, 40));
    expect(line).not.toBeNull();
    expect(line!.prompt.system).not.toMatch(/JSON/);
    expect(line!.prompt.system).toMatch(/command alone, on one line/);
    expect(line!.prompt.user).toBe(prompt.user);
    expect(line!.prompt.examples.map((e) => e.assistant)).toEqual(
      prompt.examples.map((e) => JSON.parse(e.assistant).command),
    );
    expect(line!.grammar).toContain("{0,39}");
  });

  it("keeps the JSON schema where it asks for more than the command, or the prompt is not one it can rewrite", () => {
    expect(oneLineRequest(prompt, draftSchema(true, 40))).toBeNull();
    expect(oneLineRequest(prompt, { type: "object", properties: { command: { type: "string" } } })).toBeNull();
    expect(oneLineRequest({ ...prompt, system: "Answer in YAML." }, draftSchema(false, 40))).toBeNull();
    const odd = { ...prompt, examples: [...prompt.examples, { user: "x", assistant: '{"cmd": "ls"}' }] };
    expect(oneLineRequest(odd, draftSchema(false, 40))).toBeNull();
    const multiLine = { ...prompt, examples: [{ user: "x", assistant: '{"command": "a\\nb"}' }] };
    expect(oneLineRequest(multiLine, draftSchema(false, 40))).toBeNull();
  });
});

describe("the one line as data", () => {
  const line = 'grep -r "a\\b" . | wc -l\n';

  it("streams the command as the widget shows it, quotes and backslashes as written, the newline ending it", () => {
    const streamed = new StreamedCommand();
    for (const chunk of ["gr", 'ep -r "a', "\\", 'b" . | wc -l', "\n", "ignored"]) streamed.pushCommand(chunk);
    expect(streamed.text).toBe(line.trimEnd());
  });

  it("hands the pipeline the command itself, with no JSON to parse", () => {
    expect(draftOf({ text: line, command: line })).toEqual({ command: line.trimEnd(), explanation: "" });
    // A line that happens to look like JSON is still the command.
    expect(draftOf({ text: "", command: '{"command": "rm -rf /"}\n' }).command).toBe('{"command": "rm -rf /"}');
    expect(draftOf({ text: '{"command": "ls"}' })).toEqual({ command: "ls", explanation: "" });
  });
});

describe("lineGrammar", () => {
  it("holds a real llama.cpp model to one line within the cap", async () => {
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: testModelPath("tiny") });
    try {
      const context = await model.createContext({ contextSize: 512, threads: 1 });
      const session = new LlamaChatSession({ contextSequence: context.getSequence() });
      const grammar = await llama.createGrammar({ grammar: lineGrammar(12) });
      for (const seed of [1, 2, 3]) {
        const text = await session.prompt("list files", { grammar, maxTokens: 64, temperature: 0.8, seed });
        expect(text).toMatch(/^\S[^\n\x00-\x08\x0b-\x1f]{0,11}\n?$/);
        session.resetChatHistory();
      }
    } finally {
      await model.dispose();
    }
  });
});

describe("phaseLine", () => {
  it("lists the phases in the order they happen, with the reply's share worked out", () => {
    const line = phaseLine(
      { client_start_ms: 80, connect_ms: 2, daemon_ms: 60, config_ms: 1, total_ms: 50, generate_ms: 40, judge_ms: 3 },
      150.4,
    );
    expect(line).toBe(
      "time by phase: client start 80 ms · connect 2 ms · config 1 ms · generate 40 ms · reply 9 ms · " +
        "client check 3 ms · end to end 150 ms",
    );
  });
});
