// `caro explain -- '<command>'`: the model explains, caro rates. The command comes back exactly as
// given, the rating is the local rater's (never the model's or the daemon's), and the model's words
// never steer the terminal. Through the daemon and --no-daemon, to both servers and to llama.cpp.

import { mkdirSync } from "node:fs";
import type { Server } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { caro, makeHome, modelConfig, ollamaConfig } from "./helpers/caro.js";
import { fakeDaemon, lyingAnswer } from "./helpers/daemon-client.js";
import { lastUserMessage, ollamaStandin, SERVERS, type Standin } from "./helpers/standins.js";

const standins: Standin[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) server.close();
  await Promise.all(standins.splice(0).map((s) => s.close()));
});

const EXPLAINED = "rm: removes files\n-rf: recursively, without asking\n~: your home folder";

/** A stand-in that explains with `explanation`, and a home whose config sends requests to it. */
async function explainer(kind: keyof typeof SERVERS, explanation = EXPLAINED) {
  const standin = await SERVERS[kind].start({ turns: [{ text: JSON.stringify({ explanation }) }] });
  standins.push(standin);
  return { standin, env: makeHome(SERVERS[kind].config(standin.url)).env };
}

const DAEMON_MODES = [
  ["the daemon", []],
  ["--no-daemon", ["--no-daemon"]],
] as const;

describe.each(Object.keys(SERVERS) as (keyof typeof SERVERS)[])("caro explain, %s", (kind) => {
  it.each(DAEMON_MODES)("--json through %s: exactly command, explanation, risk, reasons, warnings", async (_, mode) => {
    const { standin, env } = await explainer(kind);
    const command = "  rm  -rf ~ ";
    const result = await caro(["explain", ...mode, "--json", "--", command], { env });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    const printed = JSON.parse(String(result.stdout));
    expect(Object.keys(printed)).toEqual(["command", "explanation", "risk", "reasons", "warnings"]);
    expect(printed.command).toBe(command);
    expect(printed.explanation).toBe(EXPLAINED);
    // The local rater's verdict: the model was never asked for one.
    expect(printed.risk).toBe("critical");
    expect(printed.reasons).toContain("deletes your home directory (~) and everything in it");
    const chat = standin.chats[0];
    expect(lastUserMessage(chat)).toMatch(
      /^cwd: \/\S*\n(folder: .*\n)?(git branch: .*\n)?Explain this command: {3}rm {2}-rf ~ $/,
    );
    const schema = (chat.format ??
      (chat.response_format as { json_schema: { schema: unknown } }).json_schema.schema) as { required: string[] };
    expect(schema.required).toEqual(["explanation"]);
  });

  it("prints the explanation, then the rating and its reasons; a hostile explanation is printed inert", async () => {
    const hostile = "rm removes\x1b]0;pwned\x07 files\x1b[2J\n\x9b31mforce\u202e";
    const { env } = await explainer(kind, hostile);
    const result = await caro(["explain", "--", "rm -rf ~"], { env });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(
      "rm removes files\nforce?\nrisk critical\n  - deletes your home directory (~) and everything in it",
    );
    const json = await caro(["explain", "--json", "--", "rm -rf ~"], { env });
    const explanation: string = JSON.parse(String(json.stdout)).explanation;
    expect(explanation).toBe("rm removes files\nforce?");
  });
});

describe("caro explain with llama.cpp", () => {
  it.each(DAEMON_MODES)("through %s: the command exact, an explanation, the local rating", async (_, mode) => {
    const { env } = makeHome(modelConfig("tiny"));
    const result = await caro(["explain", ...mode, "--json", "--", "rm -rf ~"], { env });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    const printed = JSON.parse(String(result.stdout));
    expect(printed).toMatchObject({ command: "rm -rf ~", risk: "critical" });
    expect(printed.explanation.trim()).not.toBe("");
    // The tiny model's nonsense is still only text: no control character reaches the output.
    expect(printed.explanation).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  });
});

describe("caro explain's input", () => {
  it("no command, or only spaces: one usage line, exit 2, nothing asked", async () => {
    const ollama = await ollamaStandin();
    standins.push(ollama);
    const { env } = makeHome(ollamaConfig(ollama.url));
    for (const args of [["explain"], ["explain", "--"], ["explain", "--", "   "]]) {
      const result = await caro(args, { env });
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toBe("caro: no command to explain: usage: caro explain [--json] -- '<command>'");
    }
    expect(ollama.chats).toHaveLength(0);
  });

  it("is listed in caro's help, and has its own", async () => {
    expect((await caro(["--help"])).stdout).toMatch(/^ {2}explain +What a command does/m);
    expect((await caro(["help", "explain"])).stdout).toMatch(/^caro explain: /);
  });

  it("a daemon that explains another command than the one asked is refused", async () => {
    const { env, home } = makeHome();
    const dir = join(home, "run", "caro");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    servers.push(await fakeDaemon(dir, lyingAnswer("ls", "lists files")));
    const result = await caro(["explain", "--json", "--", "rm -rf ~"], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^caro: refused the answer: the caro daemon explained another command/);
  });
});
