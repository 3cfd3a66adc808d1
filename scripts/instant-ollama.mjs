// An Ollama stand-in on 127.0.0.1 that answers at once, `echo answer-<request>`: what is left of a
// request's time is caro's own. It runs as its own process (instantOllama below starts it), so a
// bench that blocks its own event loop while it polls a screen never delays an answer.

import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";

function serve() {
  const server = createServer(async (req, res) => {
    if (req.url === "/api/version") return res.end('{"version":"0.5.7"}');
    // The daemon's answer cache asks which model answers before every request.
    if (req.url === "/api/tags") return res.end('{"models":[{"name":"instant:latest","digest":"instant"}]}');
    let body = "";
    for await (const chunk of req) body += chunk;
    const text = JSON.parse(body)
      .messages.at(-1)
      .content.replace(/^[\s\S]*request: /, "");
    res.end(
      `${JSON.stringify({ message: { content: JSON.stringify({ command: `echo answer-${text}` }) }, done: true })}\n`,
    );
  });
  server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
  // Gone with the bench that started it.
  process.stdin.on("end", () => process.exit(0)).resume();
}

/** Starts the stand-in: `{ port, close() }` once it listens. */
export async function instantOllama() {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], { stdio: ["pipe", "pipe", "inherit"] });
  const port = await new Promise((resolve, reject) => {
    child.stdout.setEncoding("utf8").once("data", (line) => resolve(Number(line.trim())));
    child.once("exit", (code) => reject(new Error(`bench: the Ollama stand-in exited (${code})`)));
  });
  return { port, close: () => child.kill() };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) serve();
