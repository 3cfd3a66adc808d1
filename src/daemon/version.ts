import { readFileSync } from "node:fs";
import { PROTOCOL_VERSION } from "./protocol.js";

let cached: string | undefined;

/** Protocol and package version: a daemon left running by an older caro is replaced. */
export function daemonVersion(): string {
  cached ??= `${PROTOCOL_VERSION}/${(JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version}`;
  return cached;
}
