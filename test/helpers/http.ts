import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface TestServer {
  url: string;
  requests: string[];
  /** TCP connections accepted so far: a client that keeps its connection opens one for many requests. */
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * An HTTP server on 127.0.0.1 (or `host`: another of this machine's addresses, to stand for a
 * server elsewhere) at a random port; `handle` answers each request.
 */
export async function serve(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
  host = "127.0.0.1",
): Promise<TestServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    handle(req, res);
  });
  let connections = 0;
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    requests,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Serves a file's bytes with Range support, as Hugging Face's CDN does. */
export function sendFile(req: IncomingMessage, res: ServerResponse, bytes: Buffer): void {
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
  const start = range ? Number(range[1]) : 0;
  const end = range?.[2] ? Number(range[2]) : bytes.length - 1;
  res.writeHead(range ? 206 : 200, {
    "content-length": end - start + 1,
    "accept-ranges": "bytes",
    "content-type": "application/octet-stream",
    ...(range ? { "content-range": `bytes ${start}-${end}/${bytes.length}` } : {}),
  });
  res.end(req.method === "HEAD" ? undefined : bytes.subarray(start, end + 1));
}
