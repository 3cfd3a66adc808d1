import { readFileSync } from "node:fs";

// Here rather than in protocol.ts, which loads msgpack: `caro --version` reads this file alone.
/**
 * Raised when the messages change shape; a client and daemon that differ restart the daemon.
 * 2: an ask carries intent and shown, which a daemon of 1 would ignore and answer wrongly.
 * 3: an ask's text is `words` (was `request`); an answer comes unrated, without the daemon's level.
 */
export const PROTOCOL_VERSION = 3;

let cached: string | undefined;

/** caro's own version, from its package.json: what `caro --version` prints. */
export function packageVersion(): string {
  cached ??= (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string })
    .version;
  return cached;
}

/** Protocol and package version, as `protocol/x.y.z`: what a client and a daemon compare in their hello. */
export function daemonVersion(): string {
  return `${PROTOCOL_VERSION}/${packageVersion()}`;
}

/** Orders two `protocol/x.y.z` versions: negative when a is older. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) =>
    v
      .split(/[/.-]/)
      .slice(0, 4)
      .map((p) => Number.parseInt(p, 10) || 0);
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < 4; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/**
 * What a daemon does with a client's hello. Only a newer caro replaces a running daemon, so two
 * versions installed side by side settle on the newer one's daemon instead of restarting each
 * other's on every request. An older client of the same protocol is served; one of an older
 * protocol cannot be, and is told so.
 */
export function helloVerdict(client: string, daemon: string): "accept" | "replace" | "refuse" {
  if (client === daemon) return "accept";
  if (compareVersions(client, daemon) > 0) return "replace";
  return client.split("/")[0] === daemon.split("/")[0] ? "accept" : "refuse";
}
