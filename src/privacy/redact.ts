// Secrets out of text that caro sends on its own (history, screen lines, a failed command, file
// names): tokens and keys of the common forms, passwords given as options or assignments, and
// credentials in URLs. Each secret becomes REDACTED and what names it stays (`--password=[redacted]`,
// `https://ada:[redacted]@host`, `ghp_[redacted]`), so the model still reads what the line does.
//
// False positives are chosen with care: a hex string (a commit, a checksum, a UUID) is never taken
// for a secret, as fixes need them and they are not credentials; nor is a long random-looking word
// with nothing naming it a secret (base64 data, hashes), since one cannot tell them apart. A value
// that is a reference (`$TOKEN`, `$(pass show x)`) is left, as it holds no secret itself.

export const REDACTED = "[redacted]";

interface Rule {
  pattern: RegExp;
  replace: (match: string, ...groups: string[]) => string;
}

/** Token forms that say what they are by their prefix: the prefix stays, the rest goes. */
const PREFIXED_TOKENS: [prefix: RegExp, body: RegExp][] = [
  // AWS access key ids (AKIA long-lived, ASIA temporary, and the other principal kinds).
  [/(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)/, /[A-Z0-9]{16}/],
  // GitHub: personal, OAuth, user-to-server, server-to-server, refresh; fine-grained PATs.
  [/gh[pousr]_/, /[A-Za-z0-9]{30,}/],
  [/github_pat_/, /[A-Za-z0-9_]{22,}/],
  // GitLab: personal, deploy, runner, trigger, feed, CI/CD job, OAuth application secrets.
  [/gl(?:pat|dt|rt|ptt|ft|cbt|oas|soat)-/, /[A-Za-z0-9_-]{20,}/],
  // Slack bot, user, app, refresh and legacy tokens.
  [/xox[abposre]-/, /[A-Za-z0-9-]{10,}/],
  [/xapp-/, /[A-Za-z0-9-]{10,}/],
  // Stripe secret and restricted keys (the publishable pk_ ones are public by design).
  [/(?:sk|rk)_(?:live|test)_/, /[A-Za-z0-9]{10,}/],
  // Anthropic, then OpenAI (project, service account, admin and legacy keys).
  [/sk-ant-/, /[A-Za-z0-9_-]{20,}/],
  [/sk-(?:proj-|svcacct-|admin-)?/, /[A-Za-z0-9_-]{20,}/],
  // Google API keys and OAuth access tokens.
  [/AIza/, /[0-9A-Za-z_-]{35}/],
  [/ya29\./, /[0-9A-Za-z_-]{20,}/],
  // npm, PyPI, Hugging Face, Docker Hub, DigitalOcean, SendGrid.
  [/npm_/, /[A-Za-z0-9]{36}/],
  [/pypi-/, /[A-Za-z0-9_-]{50,}/],
  [/hf_/, /[A-Za-z0-9]{30,}/],
  [/dckr_pat_/, /[A-Za-z0-9_-]{20,}/],
  [/do[opr]_v1_/, /[a-f0-9]{64}/],
  [/SG\./, /[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/],
];

/** Parts of a name that make its value a secret: `DB_PASSWORD`, `githubToken`, `api-key`. */
const SECRET_PARTS = new Set([
  "password",
  "passwd",
  "passphrase",
  "pass",
  "pw",
  "pwd",
  "secret",
  "token",
  "apikey",
  "credential",
  "credentials",
  "authtoken",
  "auth",
]);
/** Parts that name a key, a secret one only after one of KEY_QUALIFIERS: `API_KEY`, `access-key`, `privateKey`. */
const KEY_QUALIFIERS = new Set(["api", "access", "secret", "private", "client", "encryption", "signing", "master"]);
/** A last part that makes the value something about the secret, not the secret: `TOKEN_FILE`, `password_length`. */
const NOT_THE_SECRET = new Set([
  "file",
  "path",
  "dir",
  "url",
  "uri",
  "type",
  "kind",
  "name",
  "id",
  "env",
  "stdin",
  "length",
  "len",
  "count",
  "size",
  "expiry",
  "expires",
  "ttl",
  "limit",
  "header",
  "endpoint",
  "mode",
  "method",
  "format",
  "prefix",
  "policy",
  "helper",
  "store",
  "cmd",
  "command",
  "prompt",
  "hint",
  "min",
  "max",
  "required",
  "enabled",
]);

/** `DB_PASSWORD` → [db, password]; `githubToken` → [github, token]; `api-key` → [api, key]. */
function nameParts(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** Option names that start so are switches about a secret, not the secret: `--ask-pass`, `--list-secret-keys`. */
const VERBS = new Set([
  "ask",
  "list",
  "export",
  "import",
  "show",
  "delete",
  "remove",
  "gen",
  "generate",
  "create",
  "new",
  "no",
  "edit",
  "change",
  "reset",
  "rotate",
  "revoke",
  "refresh",
  "use",
  "prompt",
  "read",
  "fetch",
  "get",
  "print",
  "check",
  "verify",
]);

/** A value that looks drawn at random: long, of letters and digits mixed, and varied (not a word or a number). */
export function looksRandom(value: string): boolean {
  if (value.length < 16 || !/^[A-Za-z0-9+/=_.~-]+$/.test(value)) return false;
  if (!/[0-9]/.test(value) || !/[A-Za-z]/.test(value)) return false;
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let entropy = 0;
  for (const n of counts.values()) entropy -= (n / value.length) * Math.log2(n / value.length);
  return entropy >= 3.5;
}

/** Does this name (of a variable, an option, a JSON or YAML key) hold a secret? */
export function namesSecret(name: string): boolean {
  const parts = nameParts(name);
  if (parts.length === 0) return false;
  if (NOT_THE_SECRET.has(parts.at(-1)!)) return false;
  // PWD and OLDPWD are the working folder, not a password.
  if (parts.length === 1 && (parts[0] === "pwd" || parts[0] === "oldpwd")) return false;
  // `auth` alone names a scheme or a switch as often as a secret: only in a longer name (X_AUTH, auth_token).
  if (parts.length === 1 && (parts[0] === "auth" || parts[0] === "pw")) return false;
  return parts.some(
    (part, i) =>
      SECRET_PARTS.has(part) ||
      // Run together: PGPASSWORD, authtoken, MYSQLPWD's kin (not `bypass`: only the long words).
      /.(password|passwd|passphrase|secret|token|apikey)$/.test(part) ||
      ((part === "key" || part === "keys") && i > 0 && KEY_QUALIFIERS.has(parts[i - 1])) ||
      part === "apikey" ||
      part === "privatekey" ||
      part === "secretkey" ||
      part === "accesskey",
  );
}

/** A value worth hiding: not empty, not a reference to another variable or command, not already hidden. */
function secretValue(value: string): boolean {
  const bare = value.replace(/^["']|["']$/g, "");
  if (bare === "" || bare.includes(REDACTED)) return false;
  if (/^\$/.test(bare) || /^<[^>]*>$/.test(bare)) return false;
  // Booleans and placeholders are settings, not secrets: `auth_token: true`, `password: null`.
  return !/^(true|false|yes|no|on|off|null|none|nil|undefined|required|optional|\*+)$/i.test(bare);
}

/** Keeps the quotes around a value: `"hunter2"` → `"[redacted]"`. */
function hidden(value: string): string {
  const quote = /^["']/.exec(value)?.[0] ?? "";
  const end = quote && value.endsWith(quote) && value.length > 1 ? quote : "";
  return `${quote}${REDACTED}${end}`;
}

// A value: quoted, or up to what ends a word, a query parameter or a list item.
const VALUE = String.raw`("[^"\n]*"|'[^'\n]*'|[^\s"'&;|),]+)`;

// MySQL and MariaDB clients take the password glued to -p (`-pSECRET`); `-p` alone asks for it.
const MYSQL_CLIENTS =
  "(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mysqlpump|mysqlsh|" +
  "mariadb|mariadb-dump|mariadb-admin)";

// Not a URL's scheme (`https://`), whose rest would hide a `?token=` inside it.
const ASSIGNMENT = new RegExp(String.raw`(["']?)([A-Za-z_][\w.-]*)\1(\s*(?::|=)\s*)(?!//)${VALUE}`, "g");

const RULES: Rule[] = [
  // A PEM private key block, to its end or to the end of the text when it was cut off.
  {
    pattern: new RegExp(
      String.raw`-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----[\s\S]*?` +
        `(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)`,
      "g",
    ),
    replace: (_m, kind) => `-----BEGIN ${kind}-----${REDACTED}-----END ${kind}-----`,
  },
  // user:password@ in any URL; a lone token as the user (`https://ghp_…@github.com`) goes below.
  {
    pattern: /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:/@'"]*):([^\s@/'"]+)@/gi,
    replace: (m, scheme, user, password) => (password === REDACTED ? m : `${scheme}${user}:${REDACTED}@`),
  },
  // Slack incoming webhooks carry their secret in the path.
  {
    pattern: /(https:\/\/hooks\.slack\.com\/services\/)[A-Za-z0-9/]+/g,
    replace: (_m, base) => `${base}${REDACTED}`,
  },
  ...PREFIXED_TOKENS.map(
    ([prefix, body]): Rule => ({
      pattern: new RegExp(`(?<![A-Za-z0-9_-])(${prefix.source})${body.source}(?![A-Za-z0-9_-])`, "g"),
      replace: (_m, kept) => `${kept}${REDACTED}`,
    }),
  ),
  // A JWT: three base64url parts, the first two JSON objects ("eyJ" is `{"`).
  {
    pattern: /\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g,
    replace: () => REDACTED,
  },
  // An HTTP Authorization value, whatever its scheme; a bearer token wherever it stands.
  {
    pattern: /\b(authorization\s*:\s*)(?:(bearer|basic|token|digest|negotiate)\s+)?("?)[^\s"']+/gi,
    replace: (m, header, scheme, quote) =>
      m.includes(REDACTED) ? m : `${header}${scheme ? `${scheme} ` : ""}${quote}${REDACTED}`,
  },
  {
    pattern: /\b(bearer\s+)([A-Za-z0-9._~+/=-]{8,})/gi,
    replace: (m, scheme, token) => (/[0-9._~+/=-]/.test(token) ? `${scheme}${REDACTED}` : m),
  },
  // mysql -pSECRET, sshpass -p SECRET, redis-cli -a SECRET, curl -u user:SECRET, smbclient -U user%SECRET.
  {
    pattern: new RegExp(String.raw`(\b${MYSQL_CLIENTS}\b[^\n|;&]*?\s-p)([^\s'"]+|"[^"\n]*"|'[^'\n]*')`, "g"),
    replace: (m, before, value) => (secretValue(value) ? `${before}${hidden(value)}` : m),
  },
  {
    pattern: /(\bsshpass\s+(?:-[a-zA-Z]\s+\S+\s+)*-p\s*)("[^"\n]*"|'[^'\n]*'|[^\s'"]+)/g,
    replace: (m, before, value) => (secretValue(value) ? `${before}${hidden(value)}` : m),
  },
  {
    pattern: /(\bredis-cli\b[^\n|;&]*?\s-a\s+)("[^"\n]*"|'[^'\n]*'|[^\s'"]+)/g,
    replace: (m, before, value) => (secretValue(value) ? `${before}${hidden(value)}` : m),
  },
  {
    pattern: /(\s(?:-u|--user|--proxy-user)[\s=]+["']?)([^\s:'"]+):([^\s'"@]+)/g,
    // A uid:gid pair (`docker run -u 1000:1000`) is no password.
    replace: (m, before, user, password) =>
      secretValue(password) && !/^\d+$/.test(`${user}${password}`) ? `${before}${user}:${REDACTED}` : m,
  },
  {
    pattern: /(\bsmbclient\b[^\n|;&]*?\s-U\s*["']?[^\s%'"]+%)([^\s'"]+)/g,
    replace: (_m, before) => `${before}${REDACTED}`,
  },
  // openssl's -pass/-passin/-passout pass:SECRET.
  {
    pattern: /(\s-pass(?:in|out)?\s+["']?pass:)([^\s'"]+)/g,
    replace: (_m, before) => `${before}${REDACTED}`,
  },
  // Long options that name a secret: --password=X, --password X, --api-key X (not --ask-pass FILE).
  {
    pattern: new RegExp(String.raw`((?:^|\s)--?([A-Za-z][\w-]*)(=|\s+))${VALUE}`, "g"),
    replace: (m, before, name, separator, value) =>
      namesSecret(name) &&
      (separator === "=" || !VERBS.has(nameParts(name)[0])) &&
      !value.startsWith("-") &&
      secretValue(value)
        ? `${before}${hidden(value)}`
        : m,
  },
  // Assignments and key/value pairs: PASSWORD=x, export API_KEY="x", "token": "x", password: x; and
  // a random-looking value of any name ending in key (STRIPE_KEY=…).
  { pattern: ASSIGNMENT, replace: assignment },
];

/** A value that is itself `name=value` (`folder: password=x`, `-o token=x`) is looked into in turn. */
function assignment(m: string, quote: string, name: string, separator: string, value: string): string {
  const secret =
    namesSecret(name) || (nameParts(name).at(-1) === "key" && looksRandom(value.replace(/^["']|["']$/g, "")));
  if (secret && secretValue(value)) return `${quote}${name}${quote}${separator}${hidden(value)}`;
  const inner = value.replace(ASSIGNMENT, assignment as (m: string, ...groups: string[]) => string);
  return inner === value ? m : `${m.slice(0, m.length - value.length)}${inner}`;
}

export interface Redaction {
  text: string;
  /** How many secrets were hidden. */
  count: number;
}

/** The text with every secret caro recognises replaced by REDACTED, and how many there were. */
export function redactSecrets(text: string): Redaction {
  let count = 0;
  let out = text;
  for (const rule of RULES)
    out = out.replace(rule.pattern, (...args) => {
      const match = args[0] as string;
      const groups = args.slice(1, -2) as string[];
      const replaced = rule.replace(match, ...groups);
      if (replaced !== match) count++;
      return replaced;
    });
  return { text: out, count };
}

/** The text with every secret caro recognises replaced by REDACTED. */
export function redact(text: string): string {
  return redactSecrets(text).text;
}
