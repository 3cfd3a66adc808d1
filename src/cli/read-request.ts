import { UsageError } from "../errors.js";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** The request is the trailing words, or stdin when it is not a terminal and no words were given. */
export async function readRequest(words: string[]): Promise<string> {
  let request = words.join(" ").trim();
  if (request === "" && !process.stdin.isTTY) request = (await readStdin()).trim();
  if (request === "") throw new UsageError('no request: say what you want, as in caro "find files over 100MB"');
  return request;
}
