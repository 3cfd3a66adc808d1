// A wrong first answer is never a dead end: Ctrl-G again asks for another command (never one
// already shown), `cmd # words` revises a command, and a failed command gets a fix. Driven as the
// shell widget drives them: `caro widget` over the daemon's socket, to real HTTP stand-ins and to
// llama.cpp with the generated test model.

import { afterEach, describe, expect, it } from "vitest";
import { caro, makeHome, modelConfig, ollamaConfig } from "./helpers/caro.js";
import { endOf, RawClient, startedDaemon } from "./helpers/daemon-client.js";
import {
  type ChatRequest,
  lastUserMessage,
  ollamaStandin,
  SERVERS,
  type Standin,
  type StandinOptions,
} from "./helpers/standins.js";

const standins: Standin[] = [];
const clients: RawClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.socket.destroy();
  await Promise.all(standins.splice(0).map((s) => s.close()));
});

async function server(kind: keyof typeof SERVERS, options: StandinOptions) {
  const standin = await SERVERS[kind].start(options);
  standins.push(standin);
  return { standin, env: makeHome(SERVERS[kind].config(standin.url)).env };
}

/** What Ctrl-G runs: `caro widget bash [options] -- <buffer>`, its output split as the shell reads it. */
async function widget(env: Record<string, string>, options: string[], buffer: string) {
  const result = await caro(["widget", "bash", ...options, "--", buffer], { env });
  const [message, ...rest] = String(result.stdout).split("\n");
  return { exitCode: result.exitCode, message, buffer: rest.join("\n"), stdout: String(result.stdout) };
}

const shownOptions = (shown: string[]) => shown.flatMap((command) => ["--shown", command]);

/** The sampling a chat asked for, in either server's wire format. */
function samplingOf(chat: ChatRequest): { temperature: number; seed: number } {
  const options = (chat.options ?? chat) as { temperature: number; seed: number };
  return { temperature: options.temperature, seed: options.seed };
}

describe.each(Object.keys(SERVERS) as (keyof typeof SERVERS)[])("another candidate, %s", (kind) => {
  it("Ctrl-G again: a new command each time; a repeat of a shown one is retried warmer, never answered", async () => {
    const { standin, env } = await server(kind, { turns: ["ls", "ls", "ls -a", "ls -a", "ls -la"] });
    const first = await widget(env, [], "list files");
    expect(first).toMatchObject({ exitCode: 0, buffer: "ls" });

    // The daemon's cached answer is the shown one: it is not handed back, the model is asked.
    const second = await widget(env, shownOptions(["ls"]), "list files");
    expect(second).toMatchObject({ exitCode: 0, message: "caro: 2nd answer", buffer: "ls -a" });
    expect(standin.chats).toHaveLength(3);
    expect(lastUserMessage(standin.chats[1])).toMatch(/request: list files\nNot any of these:\n"ls"$/);
    const [plain, repeated, retried] = standin.chats.map(samplingOf);
    expect(repeated.temperature).toBeGreaterThan(plain.temperature);
    expect(retried.temperature).toBeGreaterThan(repeated.temperature);
    expect(new Set([plain.seed, repeated.seed, retried.seed]).size).toBe(3);

    const third = await widget(env, shownOptions(["ls", "ls -a"]), "list files");
    expect(third).toMatchObject({ exitCode: 0, message: "caro: 3rd answer", buffer: "ls -la" });
    expect(standin.chats).toHaveLength(5);
    expect(lastUserMessage(standin.chats[3])).toMatch(/Not any of these:\n"ls"\n"ls -a"$/);
    // Each count of shown commands draws differently, whatever the backend does with seeds.
    expect(samplingOf(standin.chats[3]).temperature).toBeGreaterThan(repeated.temperature);

    // The plain request still has its first answer, from the cache: no new chat.
    expect(await widget(env, [], "list files")).toMatchObject({ exitCode: 0, buffer: "ls" });
    expect(standin.chats).toHaveLength(5);

    // Every chat kept one fixed prefix: only the last user message differs.
    const prefix = (chat: ChatRequest) => JSON.stringify(chat.messages.slice(0, -1));
    expect(new Set(standin.chats.map(prefix)).size).toBe(1);
  });

  it("a model that only repeats shown commands fails in one clear line, the buffer kept", async () => {
    const { standin, env } = await server(kind, { turns: ["  ls  "] });
    const result = await widget(env, shownOptions(["ls"]), "list files");
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe(
      "caro: the model gave no new command in 3 tries; rephrase the request or try a larger model",
    );
    expect(standin.chats).toHaveLength(3);
  });

  it("a shown blocked command (either disarmed form) is recognised, and the answer is still rated", async () => {
    const { standin, env } = await server(kind, { turns: ["rm -rf ~", "rm -rf ./build"] });
    // Without --comments (zsh's default: `#` starts no comment) it goes in as an assignment.
    const quoted = await widget(env, [], "clean up");
    expect(quoted.buffer).toBe("_caro_blocked='rm -rf ~'");
    expect(quoted.message).toMatch(/^caro: rated critical and quoted so Enter runs nothing: deletes your home/);
    const commented = await widget(env, ["--comments"], "clean up");
    expect(commented.buffer).toBe("# rm -rf ~");
    for (const shown of [quoted.buffer, commented.buffer]) {
      const next = await widget(env, ["--shown", shown], "clean up");
      expect(next.exitCode).toBe(0);
      expect(next.message).toMatch(/^caro: 2nd answer · rated moderate: deletes \.\/build/);
      expect(next.buffer).toBe("rm -rf ./build");
      expect(lastUserMessage(standin.chats.at(-1)!)).toMatch(/Not any of these:\n"rm -rf ~"$/);
    }
  });
});

describe.each(Object.keys(SERVERS) as (keyof typeof SERVERS)[])("refine and fix, %s", (kind) => {
  it("`command # words` reaches the model as the command and the change; an unchanged answer is retried", async () => {
    const old = "find . -name '*.log'";
    const { standin, env } = await server(kind, { turns: [old, "find . -name '*.log' -size +1M"] });
    const result = await widget(env, [], `${old} # only files over 1MB`);
    expect(result).toMatchObject({ exitCode: 0, buffer: "find . -name '*.log' -size +1M" });
    expect(standin.chats).toHaveLength(2);
    const message = lastUserMessage(standin.chats[0]);
    // Where the user is (cwd, the folder's entries and branch) comes first; the intent's words after it.
    expect(message).toMatch(
      new RegExp(
        String.raw`^cwd: \/\S*\n(folder: .*\n)?(git branch: .*\n)?Revise this command: find \. -name ` +
          String.raw`'\*\.log'\nChange: only files over 1MB$`,
      ),
    );
    expect(standin.chats[0].messages[0].content).toContain("Revise this command:");
  });

  it("a failed command reaches the model with its exit status and the folder it ran in", async () => {
    const { standin, env } = await server(kind, { turns: ["grep -r foo ."] });
    const { home } = makeHome();
    const result = await caro(["widget", "bash", "--failed", "grep -r foo /nope", "--status", "2", "--", ""], {
      env,
      cwd: home,
    });
    expect(result.exitCode).toBe(0);
    expect(String(result.stdout).split("\n").at(-1)).toBe("grep -r foo .");
    expect(lastUserMessage(standin.chats[0]).replace(/^folder: .*\n/m, "")).toBe(
      `cwd: ${home}\nThis command failed with exit status 2: grep -r foo /nope\nGive a corrected command.`,
    );
  });
});

describe("the embedded backend", () => {
  it("two more candidates from llama.cpp, each new, none a shown one; a refine never answers its command", async () => {
    const { env } = makeHome(modelConfig("tiny"));
    const first = await widget(env, [], "list files");
    expect(first.exitCode).toBe(0);
    const shown = [first.buffer];
    for (const nth of ["2nd", "3rd"]) {
      const next = await widget(env, shownOptions(shown), "list files");
      expect(next.exitCode, next.stdout).toBe(0);
      expect(next.message).toContain(`caro: ${nth} answer`);
      expect(shown.map((s) => s.trim())).not.toContain(next.buffer.replace(/^# /gm, "").trim());
      shown.push(next.buffer);
    }
    const refined = await widget(env, [], "ls -la # only directories");
    expect(refined.exitCode, refined.stdout).toBe(0);
    expect(refined.buffer.trim()).not.toBe("ls -la");
  });
});

describe("the daemon reads intent, shown and context as untrusted input", () => {
  it("refuses each malformed field with exit 2 and says which", async () => {
    const ollama = await ollamaStandin({ turns: ["ls"] });
    standins.push(ollama);
    const daemon = await startedDaemon(ollamaConfig(ollama.url));
    const client = await RawClient.helloed(daemon.files.socket);
    clients.push(client);
    const base = { t: "ask", words: "list files", shell: "bash", cwd: "/tmp", env: daemon.env, flags: {} };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ intent: "refine" }, /intent must be an object/],
      [{ intent: { kind: "delete" } }, /intent\.kind must be one of/],
      [{ intent: { kind: "refine", command: " ", words: "x" } }, /intent\.command must be a non-empty string/],
      [{ intent: { kind: "refine", command: "ls" } }, /intent\.words must be a non-empty string/],
      [{ intent: { kind: "fix", command: "ls", status: 256 } }, /intent\.status must be an integer from 0 to 255/],
      [{ intent: { kind: "fix", command: "ls", status: 1.5 } }, /intent\.status must be an integer/],
      [{ intent: { kind: "fix", command: "ls", status: "2" } }, /intent\.status must be an integer/],
      [{ shown: "ls" }, /shown must be a list of strings/],
      [{ shown: ["ls", 2] }, /shown must be a list of strings/],
      [{ shown: Array.from({ length: 33 }, (_, i) => `ls ${i}`) }, /shown may hold at most 32 commands/],
      [{ shown: ["x".repeat(40_000), "y".repeat(40_000)] }, /shown may hold at most 65536 characters/],
      [{ context: "history" }, /context must be an object/],
      [{ context: { history: "ls" } }, /context\.history must be a list of at most 100 strings/],
      [{ context: { history: Array.from({ length: 101 }, () => "ls") } }, /context\.history must be a list/],
      [{ context: { names: [1] } }, /context\.names must be a list of at most 10000 strings/],
      [{ context: { screen: ["x"] } }, /context\.screen must be a string/],
      [{ context: { screen: "x".repeat(300_000) } }, /context may hold at most 262144 characters/],
    ];
    let id = 0;
    for (const [fields, expected] of cases) {
      client.send({ ...base, id: ++id, ...fields });
      const reply = await client.until(endOf(id));
      expect(reply, JSON.stringify(fields).slice(0, 80)).toMatchObject({ t: "error", exitCode: 2 });
      expect(String(reply?.message)).toMatch(/^bad request: /);
      expect(String(reply?.message)).toMatch(expected);
    }
    // None reached the model; a well-formed one does, with only the checked fields.
    expect(ollama.chats).toHaveLength(0);
    client.send({ ...base, id: ++id, intent: { kind: "fix", command: "lss", status: 127, extra: 1 }, shown: [] });
    expect(await client.until(endOf(id))).toMatchObject({ t: "answer", answer: { command: "ls" } });
    expect(lastUserMessage(ollama.chats[0])).toContain("This command failed with exit status 127: lss");
  });
});
