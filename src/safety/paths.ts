import { homedir } from "node:os";
import { literal, type Word } from "./words.js";

/** What a path argument points at, coarsely, for judging what deleting or changing it does. */
export type PathKind =
  | "root" // "/" itself, or everything in it
  | "home" // a home directory itself, or everything in it
  | "system" // a system folder itself, or everything in it
  | "critical-file" // /etc/passwd and friends
  | "device" // a disk or partition
  | "drive" // a Windows drive root
  | "in-system" // something inside a system folder
  | "in-home" // something inside the home directory
  | "temporary" // under a tmp or cache folder
  | "cwd" // the current folder, or everything in it
  | "parent" // the parent folder, or everything in it
  | "unknown-prefix" // "$X/…": if $X is empty, this is an absolute path
  | "unknown" // only known at run time
  | "elsewhere" // an absolute path outside the folders above
  | "local"; // a named path under the current folder

export interface PathInfo {
  kind: PathKind;
  /** Ends in a glob that takes in a whole folder's contents, or matches many names. */
  glob: boolean;
  path: string;
}

const SYSTEM_DIRS = new Set([
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/home",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/opt",
  "/proc",
  "/sbin",
  "/srv",
  "/sys",
  "/usr",
  "/var",
  "/snap",
  "/Users",
  "/System",
  "/Library",
  "/Applications",
  "/private",
  "/cores",
  "/usr/bin",
  "/usr/sbin",
  "/usr/lib",
  "/usr/lib64",
  "/usr/local",
  "/usr/share",
  "/usr/include",
  "/usr/local/bin",
  "/var/lib",
  "/var/log",
  "/var/cache",
  "/var/spool",
  "/var/mail",
  "/var/www",
  "/etc/ssh",
  "/etc/sudoers.d",
  "/System/Library",
  "/private/etc",
  "/private/var",
]);

const CRITICAL_FILES = new Set([
  "/etc/passwd",
  "/etc/shadow",
  "/etc/group",
  "/etc/gshadow",
  "/etc/sudoers",
  "/etc/fstab",
  "/private/etc/sudoers",
]);
const DEVICE = new RegExp(
  String.raw`^/dev/(sd[a-z]|hd[a-z]|vd[a-z]|xvd[a-z]|nvme\d|mmcblk\d|disk\d|rdisk\d|md\d|mapper/|loop\d|dm-\d|` +
    String.raw`disk/by-|nbd\d|zram\d|rbd\d|bcache\d|drbd\d|pmem\d|sr\d|root$)`,
);
// Under /dev but no disk: devices that read or write as streams, and folders of files or sockets.
const NOT_DISK = new RegExp(
  String.raw`^/dev/(null|zero|full|u?random|tty\w*|console|kmsg|log|stdin|stdout|stderr|ptmx|` +
    String.raw`(fd|pts|shm|mqueue|tcp|udp)(/|$))`,
);
const HOME_DIR = /^(~|\/home\/[^/*]+|\/Users\/[^/*]+|\/root)$/;
const WHOLE_FOLDER_GLOB = /\/(\*|\.\*|\*\*|\.\[!.\]\*)$/;

function normalize(text: string): string {
  let path = text.replace(/\/\.(?=\/|$)/g, "").replace(/\/{2,}/g, "/");
  while (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
  return path === "" ? "/" : path;
}

/**
 * The user's home, wherever it lives (/tmp/u and /var/tmp/u included, as some CI images and
 * containers set it): null when unset or "/", which the root's own rules cover.
 */
function userHome(): string | null {
  const home = normalize(homedir());
  return home.startsWith("/") && home !== "/" ? home : null;
}

/**
 * `cwd`, when known, is where the command will run: `rm -rf ./*` in the home directory wipes it,
 * so paths relative to a home, system folder or / take that folder's kind.
 */
export function classifyPath(word: Word, cwd?: string): PathInfo {
  const raw = word.text;
  if (raw === "") return { kind: "unknown", glob: false, path: raw };
  if (cwd && !raw.startsWith("/") && !raw.startsWith("~") && !raw.startsWith("$")) {
    const where = classifyPath(literal(cwd));
    if (["root", "home", "system"].includes(where.kind)) {
      const relative = classifyPath(word);
      if (relative.kind === "cwd") return { ...where, glob: relative.glob, path: `${raw} (in ${cwd})` };
    }
  }
  if (/^[A-Za-z]:[\\/]?\*?(\.\*)?$/.test(raw)) return { kind: "drive", glob: raw.includes("*"), path: raw };
  const path = normalize(raw);
  const glob = /[*?[]/.test(path);
  const info = (kind: PathKind) => ({ kind, glob, path });
  if (path.startsWith("$")) return info(/^\$[^/]*\//.test(raw) ? "unknown-prefix" : "unknown");
  if (word.unknown.length > 0 && !path.startsWith("/") && !path.startsWith("~")) return info("unknown");
  const home = userHome();
  // The home spelled out is "~" to every rule below: a home under /tmp is still the home, and its
  // .cache still a cache.
  if (home && (path === home || path.startsWith(`${home}/`)))
    return { ...classifyPath({ ...word, text: `~${path.slice(home.length)}` }), path };
  const folder = WHOLE_FOLDER_GLOB.test(path) ? path.replace(WHOLE_FOLDER_GLOB, "") || "/" : path;
  const wholeFolder = folder !== path;
  if (path === "/" || (wholeFolder && folder === "/")) return info("root");
  if (HOME_DIR.test(path) || (wholeFolder && HOME_DIR.test(folder))) return info("home");
  if (CRITICAL_FILES.has(path)) return info("critical-file");
  if (DEVICE.test(path)) return info("device");
  // A folder that holds the home (/tmp when it is /tmp/u) takes the home with it.
  if (home && !SYSTEM_DIRS.has(folder) && home.startsWith(`${folder}/`)) return info("home");
  if (/^(\/|~\/)(.*\/)?(tmp|temp|cache|\.cache)(\/|$)/i.test(path) && path !== "/tmp") return info("temporary");
  if (SYSTEM_DIRS.has(path) || (wholeFolder && SYSTEM_DIRS.has(folder))) return info("system");
  if ([...SYSTEM_DIRS].some((dir) => path.startsWith(`${dir}/`))) return info("in-system");
  if (path.startsWith("~/")) return info("in-home");
  if (path.startsWith("/")) return info("elsewhere");
  if ([".", "*", ".*", "**", "./*", "./.*"].includes(path)) return info("cwd");
  if (path === ".." || path === "../*" || path === "../.*") return info("parent");
  return info("local");
}

/**
 * Whether a formatter or partitioner pointed at this path is pointed at a disk: anything under /dev
 * that is not a stream device, whatever its name (/dev/disk/by-id/…, /dev/mapper/…, an LVM volume,
 * `/dev/$dev`): nobody formats /dev/kmsg, so the name does not have to be one caro knows.
 */
export function isDiskPath(text: string): boolean {
  const path = normalize(text);
  return path.startsWith("/dev/") && path !== "/dev/" && !NOT_DISK.test(path);
}

/** Shell history files: emptying or deleting one erases what the user ran. */
export function isHistoryFile(word: Word): boolean {
  return (
    /(^|\/)(\.bash_history|\.zsh_history|\.history|\.sh_history|fish_history)$/.test(word.text) ||
    word.text === "$HISTFILE"
  );
}

// System folders that hold records and caches, not what the system needs to run: losing files in
// them loses history, not a working system.
const RECORD_DIRS = [
  "/var/log",
  "/var/cache",
  "/var/tmp",
  "/var/crash",
  "/Library/Logs",
  "/Library/Caches",
  "/private/var/log",
];

/** Is this absolute path one of the log or cache folders, or inside one? */
export function holdsRecords(path: string): boolean {
  const normal = normalize(path);
  return RECORD_DIRS.some((dir) => normal === dir || normal.startsWith(`${dir}/`));
}
