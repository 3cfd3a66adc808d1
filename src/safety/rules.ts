import { findScope, type Analysis, type FindScope, type Redirect, type SimpleCommand } from "./commands.js";
import { classifyPath, holdsRecords, isDiskPath, isHistoryFile, type PathInfo } from "./paths.js";
import { literal, type Word } from "./words.js";

export type Risk = "safe" | "moderate" | "high" | "critical";
export interface Finding {
  risk: Risk;
  reason: string;
}

interface Options {
  short: Set<string>;
  long: Set<string>;
  operands: Word[];
  has(short: string, long?: string): boolean;
}

/** Splits arguments into flags and operands the way most Unix tools do (`-rf` is `-r -f`; `--` ends flags). */
function options(args: Word[]): Options {
  const short = new Set<string>();
  const long = new Set<string>();
  const operands: Word[] = [];
  let ended = false;
  for (const arg of args) {
    const text = arg.text;
    if (!ended && text === "--") ended = true;
    else if (!ended && text.startsWith("--")) long.add(text.slice(2).split("=")[0]);
    else if (!ended && /^-[A-Za-z]/.test(text)) for (const c of text.slice(1)) short.add(c);
    else operands.push(arg);
  }
  return { short, long, operands, has: (s, l) => short.has(s) || (l !== undefined && long.has(l)) };
}

const finding = (risk: Risk, reason: string): Finding => ({ risk, reason });

/** The paths a command acts on; under find -exec `{}` stands for what find finds. */
function targets(
  command: SimpleCommand,
  operands: Word[],
  cwd?: string,
): { word: Word; info: PathInfo; found: boolean }[] {
  return operands.map((word) => {
    const found = command.find !== undefined && word.text.includes("{}");
    return { word, info: classifyPath(word, cwd), found };
  });
}

function rootsText(scope: FindScope): string {
  return scope.roots.map((r) => r.text).join(" ");
}

/**
 * find deleting what it matches (`-delete`, `-exec rm`, `| xargs rm`). Under /, a home or a system
 * folder that is critical whatever the filter: `-name '*.conf'` under /etc takes the system's
 * configuration with it. A folder of logs or caches is the exception when find picks files: the
 * records go, the folders the services write to stay. Elsewhere it deletes a whole tree's matches: high.
 */
function findDeletes(scope: FindScope, cwd?: string): Finding {
  const where = rootsText(scope);
  const wide = scope.roots.filter((root) => ["root", "home", "system"].includes(classifyPath(root, cwd).kind));
  const records = (root: Word) => holdsRecords(root.text.startsWith("/") ? root.text : (cwd ?? ""));
  // -maxdepth 1: the files in the folder itself, as `rm` of a glob there would.
  if (!scope.recursive)
    return finding(wide.length > 0 ? "high" : "moderate", `deletes what find matches in ${where}, not below it`);
  const what = scope.filtered
    ? `deletes every file find matches under ${where}, in every folder below it`
    : `deletes everything under ${where}`;
  if (wide.length > 0 && (!scope.filtered || !wide.every(records))) return finding("critical", what);
  if (wide.length > 0)
    return finding("high", `deletes every file find matches under ${where}, a folder of logs or caches`);
  return finding("high", what);
}

function rm(command: SimpleCommand, cwd?: string): Finding[] {
  const o = options(command.args);
  const recursive = o.has("r", "recursive") || o.short.has("R");
  const out: Finding[] = [];
  if (o.long.has("no-preserve-root"))
    out.push(finding("critical", "turns off rm's protection of / (--no-preserve-root)"));
  // Handed find's matches, by `-exec rm {}` or through `find … | xargs rm`.
  if (command.find && (o.operands.length === 0 || o.operands.some((w) => w.text.includes("{}"))))
    out.push(findDeletes(command.find, cwd));
  else if (o.operands.length === 0 && command.runtimeInputs)
    out.push(
      recursive
        ? finding("high", "deletes whatever paths it is handed at run time, recursively")
        : finding("moderate", "deletes whatever files it is handed at run time"),
    );
  for (const { word, info, found } of targets(command, o.operands, cwd)) {
    const p = word.text;
    if (found) continue;
    if (isHistoryFile(word)) {
      out.push(finding("high", `deletes your shell history (${p})`));
      continue;
    }
    switch (info.kind) {
      case "root":
        out.push(
          finding(
            recursive ? "critical" : "high",
            recursive ? "deletes everything on the system, recursively from /" : "deletes the files at the top of /",
          ),
        );
        break;
      case "drive":
        out.push(finding("critical", `deletes everything on the drive ${p}`));
        break;
      case "home":
        out.push(
          finding(
            recursive ? "critical" : "high",
            recursive
              ? `deletes your home directory (${p}) and everything in it`
              : `deletes the files in your home directory (${p})`,
          ),
        );
        break;
      case "system":
        out.push(
          finding(
            recursive ? "critical" : "high",
            recursive
              ? `deletes the system folder ${p} and everything in it`
              : `deletes files in the system folder ${p}`,
          ),
        );
        break;
      case "critical-file":
        out.push(finding("critical", `deletes ${p}, which the system needs to let anyone log in`));
        break;
      case "device":
        out.push(finding("high", `deletes the device node ${p}`));
        break;
      case "in-system":
        out.push(
          finding(
            recursive || info.glob ? "high" : "moderate",
            `deletes ${p}${recursive ? " and everything in it" : ""}, inside a system folder`,
          ),
        );
        break;
      case "in-home":
        out.push(
          finding(
            recursive ? "high" : "moderate",
            `deletes ${p}${recursive ? " and everything in it" : ""} in your home directory`,
          ),
        );
        break;
      case "unknown-prefix":
        out.push(
          finding(
            recursive ? "critical" : "high",
            `deletes ${p}: if ${p.split("/")[0]} is empty or unset, that is ${p.replace(/^\$[^/]*/, "") || "/"}`,
          ),
        );
        break;
      case "unknown":
        out.push(finding(recursive ? "high" : "moderate", `deletes ${p}, whose value is only known when it runs`));
        break;
      case "cwd":
        out.push(
          finding(
            recursive || info.glob ? "high" : "moderate",
            `deletes everything in the current folder${recursive ? ", recursively" : ""}`,
          ),
        );
        break;
      case "parent":
        out.push(finding("high", `deletes the parent folder's contents (${p})`));
        break;
      case "elsewhere":
        out.push(finding(recursive ? "high" : "moderate", `deletes ${p}${recursive ? " and everything in it" : ""}`));
        break;
      case "temporary":
        out.push(finding("moderate", `deletes ${p}${recursive ? " and everything in it" : ""} (temporary files)`));
        break;
      case "local":
        out.push(
          info.glob && recursive
            ? finding("high", `deletes everything matching ${p}, folders included`)
            : finding("moderate", `deletes ${p}${recursive ? " and everything in it" : ""}`),
        );
        break;
    }
  }
  return out;
}

function find(command: SimpleCommand, cwd?: string): Finding[] {
  return command.args.some((a) => a.text === "-delete") ? [findDeletes(findScope(command.args), cwd)] : [];
}

function remote(command: SimpleCommand, _cwd?: string): Finding[] {
  if (command.name === "ssh") return [finding("moderate", "opens a session on another machine")];
  const destination = command.args.at(-1)?.text ?? "";
  return /^[^/]*:/.test(destination) ? [finding("moderate", `copies files to another machine (${destination})`)] : [];
}

function shred(command: SimpleCommand, cwd?: string): Finding[] {
  return options(command.args).operands.map((word) => {
    const info = classifyPath(word, cwd);
    if (info.kind === "device") return finding("critical", `overwrites the whole disk ${word.text}, beyond recovery`);
    if (isHistoryFile(word)) return finding("high", `destroys your shell history (${word.text})`);
    return finding("high", `overwrites ${word.text} so it can never be recovered`);
  });
}

function dd(command: SimpleCommand, cwd?: string): Finding[] {
  const value = (key: string) => command.args.find((a) => a.text.startsWith(`${key}=`))?.text.slice(key.length + 1);
  const output = value("of");
  if (output === undefined) return [];
  const info = classifyPath(literal(output), cwd);
  if (info.kind === "device") return [finding("critical", `writes over the disk ${output}: everything on it is lost`)];
  if (info.kind === "critical-file" || info.kind === "system" || info.kind === "in-system")
    return [finding("critical", `overwrites ${output}`)];
  return [];
}

const FORMATTERS = /^(mkfs(\..+)?|mke2fs|mkswap|mkdosfs|mkntfs|wipefs|newfs(_.+)?)$/;
const PARTITIONERS = new Set(["fdisk", "sfdisk", "gdisk", "sgdisk", "cfdisk", "parted"]);

// The options of the formatters that take a value as the next word (`-L data`, `-t ext4`, `--label x`),
// where no formatter reads the same letter as a bare flag; wipefs has its own. A letter missing here
// only costs a finding about a file; a disk path or a variable is judged whatever comes before it.
const FORMAT_VALUE_LETTERS = /[bBdeEgGhiJlLmnNoOprRstTUz]$/;
const WIPEFS_VALUE_LETTERS = /[otO]$/;
const FORMAT_VALUE_LONG = new Set([
  "label",
  "uuid",
  "type",
  "types",
  "offset",
  "features",
  "nodesize",
  "sectorsize",
  "metadata",
  "data",
  "byte-count",
  "rootdir",
  "output",
  "checksum",
]);
/** A size or a block count (`mkfs.ext4 /dev/sdb1 10G`, `-F 32`): not what is formatted. */
const SIZE = /^\d+[kKmMgGtTpPeEsb]?$/;

type FormatTarget = { word: Word; kind: "disk" | "unknown" | "file" };

/**
 * What a formatter or partitioner is pointed at, by what formatting it does: a disk by any name
 * under /dev, something known only when it runs (`"$DISK"`, `$(findfs …)`), or a file.
 */
function formatTargets(command: SimpleCommand): FormatTarget[] {
  const values = command.name === "wipefs" ? WIPEFS_VALUE_LETTERS : FORMAT_VALUE_LETTERS;
  const out: FormatTarget[] = [];
  let takesValue = false;
  let ended = false;
  for (const word of command.args) {
    const text = word.text;
    const valueOfOption = takesValue;
    takesValue = false;
    if (!ended && text === "--") {
      ended = true;
      continue;
    }
    if (!ended && text.startsWith("--")) {
      takesValue = !text.includes("=") && FORMAT_VALUE_LONG.has(text.slice(2));
      continue;
    }
    if (!ended && /^-[A-Za-z]/.test(text)) {
      takesValue = values.test(text);
      continue;
    }
    // /dev/null and the like hold nothing to lose.
    if (isDiskPath(text)) out.push({ word, kind: "disk" });
    else if (text.startsWith("/dev/")) continue;
    else if (word.unknown.length > 0 && !text.startsWith("/") && !text.startsWith("~"))
      out.push({ word, kind: "unknown" });
    else if (!valueOfOption && !SIZE.test(text) && text !== "") out.push({ word, kind: "file" });
  }
  return out;
}

function disks(command: SimpleCommand, cwd?: string): Finding[] {
  if (FORMATTERS.test(command.name)) {
    const wipes = command.name === "wipefs";
    const verb = wipes ? "wipes the signatures of" : "formats";
    const lost = wipes ? "its file systems can no longer be found" : "everything on it is lost";
    return formatTargets(command).map(({ word, kind }) => {
      const d = word.text;
      if (kind === "disk") return finding("critical", `${verb} ${d}: ${lost}`);
      if (kind === "unknown") return finding("critical", `${verb} ${d}, a disk if it names one when it runs: ${lost}`);
      const info = classifyPath(word, cwd);
      if (["root", "home", "system", "critical-file", "in-system"].includes(info.kind))
        return finding("critical", `${verb} ${d}, a system file: what it held is lost`);
      return finding("high", `${verb} the file ${d}: ${wipes ? lost : "everything in it is lost"}`);
    });
  }
  const listing = command.args.some((a) => ["-l", "--list", "print", "-p", "--print"].includes(a.text));
  const devices = formatTargets(command).filter((target) => target.kind !== "file");
  if (PARTITIONERS.has(command.name) && !listing && devices.length > 0)
    return [finding("critical", `rewrites the partition table of ${devices.map((d) => d.word.text).join(", ")}`)];
  return [];
}

function diskutil(command: SimpleCommand, _cwd?: string): Finding[] {
  const verb = command.args[0]?.text ?? "";
  if (/^(eraseDisk|eraseVolume|partitionDisk|zeroDisk|randomDisk|secureErase|reformat)$/i.test(verb))
    return [finding("critical", `erases a disk (diskutil ${verb})`)];
  return [];
}

function permissions(command: SimpleCommand, cwd?: string): Finding[] {
  const o = options(command.args);
  const recursive = o.short.has("R") || o.long.has("recursive");
  const out: Finding[] = [];
  let paths = o.operands;
  let worldWritable = false;
  if (command.name === "chmod") {
    const mode = o.operands[0]?.text ?? "";
    paths = o.operands.slice(1);
    if (
      /^[0-7]*[4-7][0-7]{3}$/.test(mode) && mode.length === 4 && "4567".includes(mode[0])
        ? true
        : /(^|,)[ua]*\+[rwx]*s/.test(mode) && !/^g/.test(mode)
    )
      out.push(
        finding(
          "critical",
          `sets the setuid bit on ${paths.map((p) => p.text).join(" ")}: it runs as its owner, often root, for anyone`,
        ),
      );
    worldWritable = /^[0-7]*[2367]$/.test(mode) || (/(^|,)(o|a)?[+=][rwx]*w/.test(mode) && /^(a|o|\+)/.test(mode));
    const grantsMore = /\+/.test(mode) || worldWritable;
    if (out.length === 0 && paths.every((p) => ["local", "cwd"].includes(classifyPath(p, cwd).kind)) && grantsMore)
      out.push(
        finding(
          recursive && worldWritable ? "high" : "moderate",
          recursive && worldWritable
            ? "makes every file here writable by every user"
            : `changes permissions of ${paths.map((p) => p.text).join(" ")}`,
        ),
      );
  }
  const what = command.name === "chmod" ? "permissions" : "ownership";
  for (const path of paths) {
    const info = classifyPath(path, cwd);
    if (["root", "system", "critical-file", "drive"].includes(info.kind))
      out.push(
        finding(
          recursive || worldWritable || info.kind !== "critical-file" ? "critical" : "high",
          `changes the ${what} of ${path.text}${recursive ? " and everything under it" : ""}, ` +
            "which the system relies on",
        ),
      );
    else if (info.kind === "home")
      out.push(finding(recursive ? "critical" : "high", `changes the ${what} of your whole home directory`));
    else if (info.kind === "in-system")
      out.push(
        finding(
          recursive && worldWritable ? "critical" : recursive ? "high" : "moderate",
          `changes the ${what} of ${path.text}${recursive ? " and everything under it" : ""}, inside a system folder`,
        ),
      );
  }
  return out;
}

function kill(command: SimpleCommand, _cwd?: string): Finding[] {
  const args = command.args.map((a) => a.text);
  const pids = args
    .filter((a, i) => i > 0 || !/^-([A-Z]+|SIG\w+|\d+)$/.test(a) || a === "-1")
    .filter((a) => !["-s", "-n", "-l", "-9"].includes(a) || a === "-1");
  if ((args.includes("-1") && args.indexOf("-1") > 0) || (args[0] === "-1" && args.length === 1) || pids.includes("-1"))
    return [finding("critical", "kills every process you are allowed to kill, the desktop and your shells included")];
  if (pids.includes("1")) return [finding("high", "signals process 1, the init system")];
  return [finding("moderate", `stops process ${pids.join(" ") || "(unknown)"}`)];
}

function killByName(command: SimpleCommand, _cwd?: string): Finding[] {
  const o = options(command.args);
  if (command.name === "killall5") return [finding("critical", "kills every process on the system")];
  const byUser = command.name === "pkill" && (o.short.has("u") || o.short.has("U"));
  const names = o.operands.filter((w) => !w.text.startsWith("$") && !/^-?\d+$/.test(w.text));
  if (names.length === 0 || (byUser && names.length === 0))
    return [finding("high", byUser ? "kills every process of the user" : "kills processes without naming which")];
  return [finding("moderate", `stops every process named ${names.map((n) => n.text).join(" ")}`)];
}

function power(command: SimpleCommand, _cwd?: string): Finding[] {
  const args = command.args.map((a) => a.text);
  if (command.name === "shutdown" && args.some((a) => /^\+\d+$|^\d{1,2}:\d{2}$/.test(a)) && !args.includes("now"))
    return [finding("moderate", "schedules a shutdown")];
  if (command.name === "shutdown" && args.includes("-c")) return [];
  if (command.name === "init" && !["0", "6"].includes(args[0] ?? "")) return [];
  return [finding("high", "shuts down or restarts the machine now: unsaved work everywhere is lost")];
}

function systemctl(command: SimpleCommand, cwd?: string): Finding[] {
  const verb = command.args.find((a) => !a.text.startsWith("-"))?.text ?? "";
  const units = command.args
    .filter((a) => !a.text.startsWith("-"))
    .slice(1)
    .map((a) => a.text)
    .join(" ");
  if (["poweroff", "reboot", "halt", "kexec", "suspend", "hibernate"].includes(verb))
    return power({ ...command, name: "reboot" }, cwd);
  if (/^(stop|disable|mask|kill)$/.test(verb) && /firewall|ufw|iptables|nftables|pf\b/.test(units))
    return [finding("high", `turns off the firewall (${units})`)];
  if (/^(stop|disable|mask|kill)$/.test(verb)) return [finding("high", `stops or disables the service ${units}`)];
  if (/^(restart|reload|start|enable|try-restart)$/.test(verb)) return [];
  return [];
}

function firewall(command: SimpleCommand, _cwd?: string): Finding[] {
  const args = command.args.map((a) => a.text);
  if (command.name === "ufw") {
    if (args[0] === "disable" || args[0] === "reset")
      return [finding("high", `turns the firewall off (ufw ${args[0]})`)];
    if (["allow", "deny", "reject", "limit", "delete", "insert"].includes(args[0] ?? ""))
      return [finding("moderate", "changes the firewall rules")];
    return [];
  }
  if (command.name === "nft") return args.includes("flush") ? [finding("high", "flushes the firewall's rules")] : [];
  if (command.name === "pfctl")
    return args.includes("-d") ? [finding("high", "turns the firewall off (pfctl -d)")] : [];
  if (command.name === "setenforce")
    return args[0] === "0" || args[0] === "Permissive" ? [finding("high", "switches SELinux protection off")] : [];
  const o = options(command.args);
  if (o.has("F", "flush") || o.has("X", "delete-chain"))
    return [finding("high", "flushes the firewall's rules: every port is open")];
  const policy = args.indexOf("-P");
  if (policy !== -1 && args[policy + 2] === "ACCEPT")
    return [finding("high", `makes the firewall accept everything on ${args[policy + 1]}`)];
  if (o.short.has("A") || o.short.has("I") || o.short.has("D") || o.short.has("R"))
    return [finding("moderate", "changes the firewall rules")];
  return [];
}

function git(command: SimpleCommand, _cwd?: string): Finding[] {
  const args = command.args.map((a) => a.text);
  const verb = args.find((a) => !a.startsWith("-")) ?? "";
  const o = options(command.args);
  if (verb === "push" && (o.has("f", "force") || o.long.has("force-with-lease") || args.some((a) => /^\+/.test(a))))
    return [finding("high", "force-pushes: rewrites the remote branch and can destroy others' commits")];
  if (verb === "push" && (o.long.has("delete") || o.long.has("mirror") || o.long.has("prune")))
    return [finding("moderate", "deletes branches on the remote")];
  if (verb === "reset" && o.long.has("hard"))
    return [finding("high", "discards every uncommitted change (git reset --hard)")];
  if (verb === "clean" && o.has("f", "force"))
    return [
      o.short.has("d") || o.short.has("x") || o.short.has("X")
        ? finding("high", "deletes every untracked file and folder, ignored ones too with -x")
        : finding("moderate", "deletes untracked files"),
    ];
  if ((verb === "checkout" || verb === "restore") && args.includes("."))
    return [finding("moderate", "discards uncommitted changes in the working tree")];
  if (verb === "branch" && o.short.has("D")) return [finding("moderate", "deletes a branch even if it is not merged")];
  if (verb === "stash" && ["clear", "drop"].includes(args[args.indexOf("stash") + 1] ?? ""))
    return [finding("moderate", "deletes stashed changes")];
  if (verb === "filter-branch" || verb === "filter-repo")
    return [finding("high", "rewrites the repository's whole history")];
  return [];
}

function cloud(command: SimpleCommand, _cwd?: string): Finding[] {
  const args = command.args.map((a) => a.text);
  const all = args.includes("--all") || args.includes("-A") || args.includes("--all-namespaces");
  switch (command.name) {
    case "kubectl":
    case "oc":
      if (args[0] === "delete")
        return [
          finding(
            all && args.includes("--all-namespaces") ? "critical" : "high",
            `deletes cluster resources (${
              args
                .slice(1)
                .filter((a) => !a.startsWith("-"))
                .join(" ") || "…"
            })`,
          ),
        ];
      if (args[0] === "drain") return [finding("moderate", "evicts every pod from a node")];
      return [];
    case "terraform":
    case "tofu":
      if (args.includes("destroy"))
        return [
          finding(
            args.includes("-auto-approve") ? "critical" : "high",
            "destroys all the infrastructure this configuration manages",
          ),
        ];
      if (args.includes("apply") && args.includes("-auto-approve"))
        return [finding("moderate", "changes infrastructure without asking first")];
      return [];
    case "aws":
      if (
        args[0] === "s3" &&
        (args[1] === "rm" || args[1] === "rb") &&
        (args.includes("--recursive") || args.includes("--force"))
      )
        return [finding("high", `deletes every object under ${args[2] ?? "the bucket"}`)];
      if (args.some((a) => /^(delete|terminate|remove|deregister)-/.test(a)))
        return [finding("high", `deletes cloud resources (aws ${args.slice(0, 2).join(" ")})`)];
      return [];
    case "gcloud":
    case "az":
    case "doctl":
      return args.includes("delete")
        ? [
            finding(
              "high",
              `deletes cloud resources (${command.name} ${args
                .filter((a) => !a.startsWith("-"))
                .slice(0, 3)
                .join(" ")})`,
            ),
          ]
        : [];
    case "helm":
      return args[0] === "uninstall" || args[0] === "delete"
        ? [finding("moderate", "uninstalls a release from the cluster")]
        : [];
    case "docker":
    case "podman":
      if (args.includes("--privileged")) return [finding("high", "runs a container with full access to the host")];
      if (args.includes("prune"))
        return [
          finding(
            args.includes("--volumes") ? "high" : "moderate",
            `deletes unused ${args.includes("--volumes") ? "containers, images and volumes (data)" : "docker objects"}`,
          ),
        ];
      if (
        ["rm", "rmi"].includes(args[0] ?? "") ||
        (args[1] === "rm" && ["volume", "container", "image"].includes(args[0] ?? ""))
      )
        return [finding("moderate", `deletes docker ${args[0] === "rmi" ? "images" : "objects"}`)];
      return [];
  }
  return [];
}

const DB_CLIENTS = new Set([
  "psql",
  "mysql",
  "mariadb",
  "sqlite3",
  "sqlcmd",
  "clickhouse-client",
  "cqlsh",
  "mongo",
  "mongosh",
  "redis-cli",
  "duckdb",
]);

function database(command: SimpleCommand, texts: string[]): Finding[] {
  if (command.name === "dropdb") return [finding("critical", "drops a whole database")];
  if (command.name === "redis-cli") {
    const args = command.args.map((a) => a.text.toUpperCase());
    if (args.includes("FLUSHALL")) return [finding("critical", "deletes every key in every Redis database")];
    if (args.includes("FLUSHDB")) return [finding("high", "deletes every key in a Redis database")];
  }
  if (!DB_CLIENTS.has(command.name)) return [];
  const sql = texts.join("\n");
  if (/\bDROP\s+(DATABASE|SCHEMA)\b|dropDatabase\s*\(/i.test(sql))
    return [finding("critical", "drops a whole database")];
  if (/\b(DROP\s+TABLE|TRUNCATE)\b/i.test(sql)) return [finding("high", "drops or empties a table")];
  if (/\bDELETE\s+FROM\s+\S+\s*(;|$|")/im.test(sql))
    return [finding("high", "deletes every row of a table (no WHERE)")];
  return [];
}

function move(command: SimpleCommand, cwd?: string): Finding[] {
  const o = options(command.args);
  if (o.operands.length < 2) return [];
  const sources = o.operands.slice(0, -1);
  const destination = o.operands.at(-1)!;
  const out: Finding[] = [];
  // `cp /dev/null file` empties the file, as `> file` does.
  const emptying = command.name !== "mv" && sources.every((s) => /^\/dev\/(null|zero)$/.test(s.text));
  if (["critical-file"].includes(classifyPath(destination, cwd).kind))
    out.push(finding("critical", `overwrites ${destination.text}`));
  else if (emptying) out.push(...writesOver(destination, "empties", cwd));
  else if (destination.text === "/dev/null" && command.name === "mv")
    out.push(finding("critical", `moves ${sources.map((s) => s.text).join(" ")} onto /dev/null: it is gone`));
  if (command.name !== "mv") {
    if (["system", "in-system", "root"].includes(classifyPath(destination, cwd).kind) && out.length === 0)
      out.push(finding("moderate", `writes into the system folder ${destination.text}`));
    return out;
  }
  for (const source of sources) {
    const info = classifyPath(source, cwd);
    if (["root", "system", "home", "critical-file", "drive"].includes(info.kind))
      out.push(finding("critical", `moves ${source.text} away: the system or your home stops working`));
    else if (info.kind === "cwd") out.push(finding("high", "moves everything in the current folder"));
    else if (info.kind === "in-system") out.push(finding("moderate", `moves ${source.text} out of a system folder`));
  }
  return out;
}

function editsInPlace(command: SimpleCommand, cwd?: string): Finding[] {
  const o = options(command.args);
  const inPlace = command.name === "rename" || o.short.has("i") || o.long.has("in-place");
  if (!inPlace) return [];
  const files = command.name === "rename" ? o.operands.slice(1) : o.operands.slice(o.short.has("e") ? 0 : 1);
  if (command.find) return [finding("high", `edits every file find finds in ${rootsText(command.find)}, in place`)];
  for (const file of files) {
    const info = classifyPath(file, cwd);
    if (info.kind === "critical-file") return [finding("critical", `edits ${file.text} in place`)];
    if (info.kind === "cwd")
      return [
        finding(
          "high",
          `${command.name === "rename" ? "renames" : "edits"} every file in the current folder, in place`,
        ),
      ];
    if (info.kind === "in-system" || info.kind === "system")
      return [finding("moderate", `edits ${file.text} in place`)];
  }
  return files.length
    ? [
        finding(
          "moderate",
          `${command.name === "rename" ? "renames" : "edits"} ${files.map((f) => f.text).join(" ")} in place`,
        ),
      ]
    : [];
}

function tee(command: SimpleCommand, cwd?: string): Finding[] {
  return options(command.args).operands.flatMap((file) =>
    redirect({ operator: command.args.some((a) => a.text === "-a") ? ">>" : ">", target: file }, cwd),
  );
}

function redirect({ operator, target }: Redirect, cwd?: string): Finding[] {
  if (operator === "<" || operator === "<<" || operator === "<<<" || operator === "<&" || target.text === "") return [];
  if (/^\/dev\/(tcp|udp)\//.test(target.text))
    return [
      finding("critical", `connects a shell to ${target.text}: someone else controls this machine (a reverse shell)`),
    ];
  return writesOver(target, operator === ">>" ? "appends to" : "overwrites", cwd);
}

/**
 * Writing a file's contents anew (`>`, `tee`, `truncate`, `cp /dev/null`) or adding to them (`>>`):
 * what that costs depends on whose file it is. A log or setting under a system folder is lost.
 */
type Overwrite = "overwrites" | "appends to" | "empties" | "empties or cuts";

function writesOver(target: Word, how: Overwrite, cwd?: string): Finding[] {
  const info = classifyPath(target, cwd);
  const path = target.text;
  const appends = how === "appends to";
  if (info.kind === "device") return [finding("critical", `writes over the disk ${path}: everything on it is lost`)];
  if (info.kind === "critical-file")
    return [finding("critical", `${how} ${path}, which controls who can log in and use sudo`)];
  if (isHistoryFile(target) && !appends) return [finding("high", `wipes your shell history (${path})`)];
  if (["system", "in-system", "root"].includes(info.kind) && !/^\/dev\/(null|zero|stdout|stderr|tty|fd\/)/.test(path))
    return [finding(appends ? "moderate" : "high", `${how} the system file ${path}`)];
  return [];
}

/** The files `truncate` cuts: its operands, less the values of -s/--size and -r/--reference. */
function truncate(command: SimpleCommand, cwd?: string): Finding[] {
  const files: Word[] = [];
  for (let i = 0; i < command.args.length; i++) {
    const text = command.args[i].text;
    if (["-s", "-r", "--size", "--reference"].includes(text)) i++;
    else if (!/^-./.test(text)) files.push(command.args[i]);
  }
  return files.flatMap((file) => {
    if (command.find && file.text.includes("{}")) {
      const system = ["root", "home", "system", "in-system"];
      const wide = command.find.roots.some((r) => system.includes(classifyPath(r, cwd).kind));
      const where = rootsText(command.find);
      return [finding(wide ? "high" : "moderate", `empties or cuts every file find matches under ${where}`)];
    }
    const found = writesOver(file, "empties or cuts", cwd);
    return found.length ? found : [finding("moderate", `empties or cuts ${file.text}`)];
  });
}

function network(command: SimpleCommand, _cwd?: string): Finding[] {
  const args = command.args.map((a) => a.text);
  if (
    ["nc", "ncat", "netcat"].includes(command.name) &&
    (args.includes("-e") || args.includes("-c") || args.some((a) => /^-\w*e$/.test(a)))
  )
    return [finding("critical", "serves a shell over the network: anyone who connects controls this machine")];
  if (["ifconfig", "ip"].includes(command.name) && args.includes("down"))
    return [finding("high", "takes a network interface down: you may lose your connection")];
  if (
    command.name === "curl" &&
    args.some((a, i) => (a === "-X" || a === "--request") && /^(POST|PUT|DELETE|PATCH)$/i.test(args[i + 1] ?? ""))
  )
    return [finding("moderate", "sends a request that changes something on a server")];
  return [];
}

function misc(command: SimpleCommand, cwd?: string): Finding[] {
  const args = command.args.map((a) => a.text);
  const o = options(command.args);
  switch (command.name) {
    case "crontab":
      return o.short.has("r") ? [finding("high", "deletes all your cron jobs, without asking")] : [];
    case "history":
      return o.short.has("c") ? [finding("high", "clears your shell history")] : [];
    case "umount":
      return o.short.has("a") ? [finding(o.short.has("f") ? "critical" : "high", "unmounts every file system")] : [];
    case "xattr":
      return (o.short.has("c") || o.short.has("d")) &&
        o.short.has("r") &&
        o.operands.some((p) => ["root", "system"].includes(classifyPath(p, cwd).kind))
        ? [finding("high", "strips extended attributes from system files")]
        : [];
    case "format":
      return args.some((a) => /^[A-Za-z]:$/.test(a))
        ? [finding("critical", `formats the drive ${args.find((a) => /^[A-Za-z]:$/.test(a))}`)]
        : [];
    case "del":
    case "erase":
    case "rd":
    case "rmdir":
      if (args.some((a) => /^\/[sq]$/i.test(a)) || command.name === "del") {
        const drive = args.find((a) => /^[A-Za-z]:\\?\*?(\.\*)?$/.test(a));
        if (drive) return [finding("critical", `deletes everything on the drive ${drive}`)];
        return command.name === "rmdir" ? [] : [finding("moderate", "deletes files")];
      }
      return [];
    case "Remove-Item":
    case "ri": {
      const recurse = args.some((a) => /^-Recurse$/i.test(a));
      const path = args.find((a) => !a.startsWith("-")) ?? "";
      if (recurse && (/^\*(\.\*)?$/.test(path) || /^[A-Za-z]:\\?$/.test(path)))
        return [
          finding(
            "critical",
            `deletes everything in ${path === "*" || path === "*.*" ? "the current folder" : path}, recursively`,
          ),
        ];
      return [finding(recurse ? "high" : "moderate", `deletes ${path}${recurse ? " and everything in it" : ""}`)];
    }
    case "userdel":
    case "deluser":
      return [finding("high", "deletes a user account")];
    case "passwd":
    case "usermod":
    case "useradd":
    case "chpasswd":
    case "visudo":
      return [finding("moderate", "changes user accounts or sudo rights")];
  }
  return [];
}

const EDITORS = new Set([
  "vi",
  "vim",
  "nvim",
  "nano",
  "emacs",
  "ed",
  "pico",
  "micro",
  "touch",
  "mkdir",
  "ln",
  "install",
]);
const PACKAGE_MANAGERS =
  /^(apt|apt-get|aptitude|yum|dnf|zypper|pacman|apk|brew|port|snap|flatpak|pip|pip3|pipx|gem|cargo|npm|pnpm|yarn|bun)$/;
/** A package manager's verbs that install, upgrade or remove software. */
const PACKAGE_CHANGES =
  /^(install|add|remove|purge|uninstall|erase|upgrade|update|dist-upgrade|full-upgrade|autoremove|reinstall|-S\w*)$/;

function packages(command: SimpleCommand, _cwd?: string): Finding[] {
  if (!PACKAGE_MANAGERS.test(command.name)) return [];
  const verb = command.args.find((a) => !a.text.startsWith("-"))?.text ?? "";
  const changes = PACKAGE_CHANGES.test(verb) || command.args.some((a) => /^-S/.test(a.text));
  if (!changes) return [];
  // `npm install` with no package installs a project's own locked dependencies.
  if (
    ["npm", "pnpm", "yarn", "bun"].includes(command.name) &&
    command.args.filter((a) => !a.text.startsWith("-")).length <= 1
  )
    return [];
  return [
    finding(
      "moderate",
      `${/remove|purge|uninstall|erase|autoremove/.test(verb) ? "removes" : "installs or upgrades"} software ` +
        `(${command.name} ${verb})`,
    ),
  ];
}

function writesSystemFile(command: SimpleCommand, cwd?: string): Finding[] {
  if (!EDITORS.has(command.name)) return [];
  const system = options(command.args).operands.find((w) =>
    ["in-system", "system", "critical-file"].includes(classifyPath(w, cwd).kind),
  );
  return system ? [finding("moderate", `changes the system file ${system.text}`)] : [];
}

function rootShell(command: SimpleCommand, _cwd?: string): Finding[] {
  if (!command.elevated && command.name !== "sudo" && command.name !== "su") return [];
  if (command.name === "sudo" || command.name === "doas") {
    const args = command.args.map((a) => a.text);
    return args.some((a) => ["-i", "-s", "--login", "--shell"].includes(a))
      ? [finding("high", "opens a shell as root")]
      : [];
  }
  if (
    command.name === "su" ||
    ((command.name === "bash" || command.name === "sh" || command.name === "zsh") && command.args.length === 0)
  )
    return command.elevated || command.name === "su"
      ? [finding(command.elevated ? "high" : "moderate", "opens a shell as another user (root by default)")]
      : [];
  return [];
}

const RULES: Record<string, (command: SimpleCommand, cwd?: string) => Finding[]> = {
  rm,
  unlink: rm,
  shred,
  dd,
  diskutil,
  chmod: permissions,
  chown: permissions,
  chgrp: permissions,
  kill,
  killall: killByName,
  killall5: killByName,
  pkill: killByName,
  shutdown: power,
  reboot: power,
  halt: power,
  poweroff: power,
  init: power,
  systemctl,
  iptables: firewall,
  ip6tables: firewall,
  ufw: firewall,
  nft: firewall,
  pfctl: firewall,
  setenforce: firewall,
  git,
  kubectl: cloud,
  oc: cloud,
  terraform: cloud,
  tofu: cloud,
  aws: cloud,
  gcloud: cloud,
  az: cloud,
  doctl: cloud,
  helm: cloud,
  docker: cloud,
  podman: cloud,
  mv: move,
  cp: move,
  install: move,
  sed: editsInPlace,
  perl: editsInPlace,
  rename: editsInPlace,
  tee,
  truncate,
  find,
  ssh: remote,
  scp: remote,
  rsync: remote,
  nc: network,
  ncat: network,
  netcat: network,
  ifconfig: network,
  ip: network,
  curl: network,
};

const ESCALATE: Record<Risk, Risk> = { safe: "moderate", moderate: "high", high: "high", critical: "critical" };

/** Everything one command does that deserves a warning. */
function commandFindings(command: SimpleCommand, analysis: Analysis, cwd?: string): Finding[] {
  let found = [
    ...(RULES[command.name]?.(command, cwd) ?? []),
    ...(FORMATTERS.test(command.name) || PARTITIONERS.has(command.name) ? disks(command, cwd) : []),
    ...database(command, analysis.texts),
    ...misc(command, cwd),
    ...packages(command),
    ...writesSystemFile(command, cwd),
    ...rootShell(command),
  ];
  if (command.elevated) {
    found = found.map((f) => ({ ...f, risk: ESCALATE[f.risk] }));
    if (!found.some((f) => f.reason.includes("as root")))
      found.push(finding("moderate", `runs ${command.name} as root`));
  }
  const via = command.via.filter(
    (v) => !["sudo", "doas", "env", "nice", "nohup", "time", "command", "builtin", "exec", "stdbuf"].includes(v),
  );
  return via.length ? found.map((f) => ({ ...f, reason: `${f.reason} (through ${via.join(", ")})` })) : found;
}

export function analysisFindings(analysis: Analysis, cwd?: string): Finding[] {
  const out: Finding[] = [];
  if (analysis.forkBomb)
    out.push(finding("critical", "a fork bomb: it starts copies of itself until the system stalls"));
  for (const elevated of analysis.downloadsIntoShell)
    out.push(
      elevated
        ? finding("critical", "runs a script downloaded from the internet as root, unseen")
        : finding("high", "runs a script downloaded from the internet without showing it first"),
    );
  for (const r of analysis.redirects) out.push(...redirect(r, cwd));
  for (const text of analysis.declarations)
    if (/\bHIST(FILE)?SIZE=0\b|\bunset\s+HISTFILE\b|HISTFILE=\/dev\/null/.test(text))
      out.push(finding("moderate", "stops saving your shell history"));
  for (const command of analysis.commands) out.push(...commandFindings(command, analysis, cwd));
  return out;
}
