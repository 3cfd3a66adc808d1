// Grounded answers end to end: the real CLI and daemon against stand-in servers (whose chats show
// the prompts) and the embedded backend with a generated model. PATH, MANPATH and the folder are
// fixtures, so nothing depends on what this machine has installed.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { caro, makeHome, modelConfig, ollamaConfig } from "./helpers/caro.js";
import { endOf, RawClient, startedDaemon } from "./helpers/daemon-client.js";
import { fixtureFolder, fixtureManPath } from "./helpers/fixture-machine.js";
import { type ChatRequest, lastUserMessage, ollamaStandin, type Standin } from "./helpers/standins.js";

const servers: Standin[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
async function standin(reply: (request: ChatRequest) => string, host?: string): Promise<Standin> {
  const server = await ollamaStandin({ reply, host });
  servers.push(server);
  return server;
}

const answer = (command: string) => JSON.stringify({ command });
const temp = () => mkdtempSync(join(tmpdir(), "caro-grounded-"));

/** A PATH of this machine's making: apt, find, frob and ls there; fd, rg and the rest not. */
function fixtureMachine() {
  const bin = temp();
  for (const name of ["apt", "find", "frob", "ls"]) writeFileSync(join(bin, name), "#!/bin/sh\n", { mode: 0o755 });
  return { bin, man: fixtureManPath(), cwd: fixtureFolder() };
}

function homeFor(config: string, machine: ReturnType<typeof fixtureMachine>) {
  const made = makeHome(config);
  made.env.PATH = machine.bin;
  made.env.MANPATH = machine.man;
  return made;
}

/** The first non-loopback IPv4 address of this machine, to stand for a server elsewhere; none in some sandboxes. */
const elsewhere = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === "IPv4" && !a.internal)?.address;

describe("an answer checked against the machine, through the daemon", () => {
  it("tells the model the machine and folder, asks again naming a missing program, takes the better one", async () => {
    const machine = fixtureMachine();
    const server = await standin((chat) =>
      answer(lastUserMessage(chat).includes("Fails here") ? "find . -name '*.py'" : "fd -e py"),
    );
    const { env } = homeFor(ollamaConfig(server.url), machine);
    const result = await caro(["--verbose", "find", "python", "files"], { env, cwd: machine.cwd });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe("find . -name '*.py'");
    expect(result.stderr).not.toContain("warning");
    expect(server.chats).toHaveLength(2);
    const [first, second] = server.chats;
    const system = first.messages[0].content;
    // The package manager, what is installed, and what a model would reach for that is not.
    expect(system).toContain("Package manager: apt.\nInstalled: find.\nNot installed: rg, grep, fd, fdfind, ss,");
    // Eight entries of twenty-two, by priority, bounded; the branch.
    expect(lastUserMessage(first)).toBe(
      `cwd: ${machine.cwd}\nfolder: package.json docs/ src/ note-00.txt note-01.txt note-02.txt note-03.txt ` +
        `note-04.txt …\ngit branch: feature\nrequest: find python files`,
    );
    // The second try: the same fixed prefix byte for byte, the reason last.
    expect(second.messages.slice(0, -1)).toEqual(first.messages.slice(0, -1));
    expect(lastUserMessage(second)).toBe(
      `${lastUserMessage(first)}\nFails here: "fd -e py" (\`fd\` is not installed here)`,
    );
    // --verbose shows the context exactly as sent.
    expect(result.stderr).toContain(`caro: context sent to ${server.url}:\n`);
    expect(result.stderr).toContain("caro:   Package manager: apt.\n");
    expect(result.stderr).toContain("caro:   git branch: feature\n");
    expect(result.stderr).toContain("caro: asking again: `fd` is not installed here\n");
    // The daemon's log counts the retry: the bench reads it there (scripts/bench-grounding.mjs).
    const log = readFileSync(join(env.XDG_STATE_HOME, "caro", "daemon.log"), "utf8");
    expect(log).toMatch(/ generated tokens, 1 check retry\)\n$/);
  });

  it("shows an answer that fails twice with its warning, on stderr and in --json; never broken text", async () => {
    const machine = fixtureMachine();
    const server = await standin((chat) => {
      const message = lastUserMessage(chat);
      if (message.includes("Explain this command:")) return JSON.stringify({ explanation: "frobs x, fastest" });
      if (message.includes("request: broken")) return answer("ls \uFFFD");
      if (message.includes("request: fast")) return answer("frob --fastest x");
      return answer(message.includes("Fails here") ? "fd -e py ." : "fd -e py");
    });
    const { env } = homeFor(ollamaConfig(server.url), machine);

    const missing = await caro(["find", "python", "files"], { env, cwd: machine.cwd });
    expect(missing.exitCode).toBe(0);
    expect(missing.stdout).toBe("fd -e py .");
    expect(missing.stderr).toContain("caro: warning: `fd` is not installed here\n");

    // An answer that failed a check is not kept; one right for one PATH is not handed to another.
    const withFd = temp();
    writeFileSync(join(withFd, "fd"), "#!/bin/sh\n", { mode: 0o755 });
    const fdEnv = { ...env, PATH: `${machine.bin}:${withFd}` };
    const asked = async (askEnv: Record<string, string>) =>
      JSON.parse(String((await caro(["--json", "find", "python", "files"], { env: askEnv, cwd: machine.cwd })).stdout));
    expect(await asked(fdEnv)).toMatchObject({ command: "fd -e py", warnings: [], cached: false });
    expect(await asked(fdEnv)).toMatchObject({ command: "fd -e py", cached: true });
    expect(await asked(env)).toMatchObject({ warnings: ["`fd` is not installed here"], cached: false });

    // An option the program's manual page (in the fixture MANPATH) does not name; the model
    // gives the same command again, and that is the answer.
    const option = await caro(["--json", "fast"], { env, cwd: machine.cwd });
    expect(option.exitCode).toBe(0);
    const json = JSON.parse(String(option.stdout));
    expect(json.command).toBe("frob --fastest x");
    expect(json.warnings).toEqual(["`frob` has no option `--fastest`"]);
    expect(json.timings.check_retries).toBe(1);
    expect(lastUserMessage(server.chats.at(-1)!)).toContain(
      'Fails here: "frob --fastest x" (`frob` has no option `--fastest`)',
    );

    const chatsBefore = server.chats.length;
    const broken = await caro(["broken"], { env, cwd: machine.cwd });
    expect(broken.exitCode).toBe(1);
    expect(broken.stdout).toBe("");
    expect(broken.stderr).toBe(
      "caro: the model wrote broken characters (U+FFFD) twice, not a command; try again, or try a larger model",
    );
    expect(server.chats.length - chatsBefore).toBe(2);

    // With checks = false the answer is taken as it comes: one chat, no warning.
    const unchecked = homeFor(ollamaConfig(server.url, "[context]\nchecks = false\n"), machine).env;
    const chats = server.chats.length;
    const plain = await caro(["--no-daemon", "find", "python", "files"], { env: unchecked, cwd: machine.cwd });
    expect([plain.exitCode, plain.stdout, plain.stderr]).toEqual([0, "fd -e py", "caro: risk safe"]);
    expect(server.chats.length - chats).toBe(1);

    // caro check and caro explain report the same findings.
    const check = await caro(["check", "--json", "--", "fd -e py | frob --fastest"], { env, cwd: machine.cwd });
    expect(JSON.parse(String(check.stdout)).warnings).toEqual([
      "`fd` is not installed here",
      "`frob` has no option `--fastest`",
    ]);
    const explain = await caro(["explain", "--", "frob --fastest x"], { env, cwd: machine.cwd });
    expect(explain.exitCode).toBe(0);
    expect(explain.stdout).toMatch(/^risk safe\n {2}warning: `frob` has no option `--fastest`$/m);
  });
});

describe("what caro sends of its own, and what it hides", () => {
  const secrets = {
    history: [
      "ls",
      "export GITHUB_TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ012345",
      "curl -u ada:hunter2 https://x.example",
    ],
    screen: "ERROR 1045 (28000): Access denied for user 'root' (using password: YES)\nPGPASSWORD=s3cr3t psql",
  };
  const fix = { kind: "fix", command: "mysql -u root -phunter2 shop", status: 1 };

  /** Asks the daemon directly, as the widget will, with the shell's history and screen. */
  async function askRaw(socket: string, request: Record<string, unknown>) {
    const client = await RawClient.helloed(socket);
    client.send({ t: "ask", id: 1, shell: "bash", flags: {}, ...request });
    const end = await client.until(endOf(1));
    client.socket.end();
    return end;
  }

  it("keeps history out by default, sends it with history = N, and sends it as it is to this machine", async () => {
    const machine = fixtureMachine();
    const server = await standin(() => answer("ls"));
    const plain = await startedDaemon(ollamaConfig(server.url));
    const env = { ...plain.env, PATH: machine.bin };
    await askRaw(plain.files.socket, { words: "list", cwd: machine.cwd, env, context: secrets });
    expect(lastUserMessage(server.chats[0])).not.toContain("Recent commands");

    const withHistory = await startedDaemon(ollamaConfig(server.url, "[context]\nhistory = 2\n"));
    await askRaw(withHistory.files.socket, {
      words: "list",
      cwd: machine.cwd,
      env: { ...withHistory.env, PATH: machine.bin },
      context: secrets,
    });
    // On loopback: as the shell sent it, the last two lines.
    expect(lastUserMessage(server.chats[1])).toContain(
      `Recent commands:\n${JSON.stringify(secrets.history[1])}\n${JSON.stringify(secrets.history[2])}\nrequest: list`,
    );
  });

  it("redact = always: every secret it adds redacted, the typed request intact, the screen when allowed", async () => {
    const machine = fixtureMachine();
    writeFileSync(join(machine.cwd, "api_key=AbCdEf123456.txt"), "");
    const server = await standin(() => answer("ls"));
    const { files, env } = await startedDaemon(
      ollamaConfig(server.url, '[context]\nhistory = 5\nredact = "always"\nscreen = "always"\n'),
    );
    const end = await askRaw(files.socket, {
      words: "mysql -u root -phunter2 shop",
      intent: fix,
      cwd: machine.cwd,
      env: { ...env, PATH: machine.bin },
      context: secrets,
    });
    expect(end?.t).toBe("answer");
    const sent = lastUserMessage(server.chats[0]);
    for (const secret of ["hunter2", "ghp_0123456789", "s3cr3t", "AbCdEf123456"]) expect(sent).not.toContain(secret);
    expect(sent).toContain("This command failed with exit status 1: mysql -u root -p[redacted] shop\nIt printed:\n");
    expect(sent).toContain("PGPASSWORD=[redacted] psql");
    expect(sent).toContain('"export GITHUB_TOKEN=ghp_[redacted]"');
    expect(sent).toContain("api_key=[redacted]");

    // What the user typed is theirs: it goes as typed.
    await askRaw(files.socket, {
      words: "clone with token ghp_0123456789abcdefghijABCDEFGHIJ012345",
      cwd: machine.cwd,
      env: { ...env, PATH: machine.bin },
    });
    expect(lastUserMessage(server.chats[1])).toContain(
      "request: clone with token ghp_0123456789abcdefghijABCDEFGHIJ012345",
    );
  });

  it.skipIf(!elsewhere)("redacts by default for a server not on this machine, and sends it no screen", async () => {
    const machine = fixtureMachine();
    const server = await standin(() => answer("ls"), elsewhere);
    const { files, env } = await startedDaemon(ollamaConfig(server.url, "[context]\nhistory = 5\n"));
    await askRaw(files.socket, {
      words: "mysql -u root -phunter2 shop",
      intent: fix,
      cwd: machine.cwd,
      env: { ...env, PATH: machine.bin },
      context: secrets,
    });
    const sent = lastUserMessage(server.chats[0]);
    expect(sent).toContain("mysql -u root -p[redacted] shop");
    expect(sent).toContain("curl -u ada:[redacted] https://x.example");
    expect(sent).not.toContain("hunter2");
    expect(sent).not.toContain("It printed");
    expect(sent).not.toContain("Access denied");
  });
});

describe("the embedded backend, checks on", () => {
  it("answers with programs that exist (no second try); a second request in the folder reuses its tokens", async () => {
    const machine = fixtureMachine();
    const { env } = makeHome(modelConfig("tiny"));
    const ask = async (words: string) => {
      const result = await caro(["--json", words], { env, cwd: machine.cwd });
      expect(result.exitCode).toBe(0);
      return JSON.parse(String(result.stdout));
    };
    const first = await ask("list the files");
    expect(first.warnings).toEqual([]);
    expect(first.timings.check_retries).toBe(0);
    const second = await ask("show the files");
    // The folder's entries and branch came first in the message: the second request, from the
    // same folder, evaluated only what differs (the request), not them again.
    // (One try each: a second try of the same prompt reuses all of it, and would prove nothing.)
    expect([first.timings.attempts, second.timings.attempts]).toEqual([1, 1]);
    expect(second.timings.prompt_tokens).toBeLessThan(first.timings.prompt_tokens - 10);
  });
});
