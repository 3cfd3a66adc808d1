// Redaction of what caro sends on its own: each kind of secret goes, and ordinary text stays.

import { describe, expect, it } from "vitest";
import { namesSecret, REDACTED, redact, redactSecrets } from "../src/privacy/redact.js";

// Made-up values of the real shapes (none of them is or was a live credential).
const AWS_ID = "AKIAIOSFODNN7EXAMPLE";
const AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const GITHUB = `ghp_${"a1B2c3D4e5".repeat(4)}`;
const JWT = [
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
  "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ",
  "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
].join(".");

describe("redact: secrets go, what names them stays", () => {
  it.each([
    // [what, text, what must remain, what must go]
    ["AWS access key id", `aws s3 ls --profile x # ${AWS_ID}`, "AKIA[redacted]", AWS_ID],
    [
      "AWS secret in an assignment",
      `AWS_SECRET_ACCESS_KEY=${AWS_SECRET} aws s3 ls`,
      "AWS_SECRET_ACCESS_KEY=[redacted] aws",
      AWS_SECRET,
    ],
    [
      "AWS secret in a config line",
      `aws_secret_access_key = ${AWS_SECRET}`,
      "aws_secret_access_key = [redacted]",
      AWS_SECRET,
    ],
    [
      "GitHub classic token",
      `git clone https://${GITHUB}@github.com/a/b`,
      "https://ghp_[redacted]@github.com/a/b",
      GITHUB,
    ],
    ["GitHub OAuth token", `gho_${"Z9y8X7w6V5".repeat(4)}`, "gho_[redacted]", "Z9y8X7w6V5"],
    [
      "GitHub fine-grained token",
      `github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123`,
      "github_pat_[redacted]",
      "11ABCDEFG",
    ],
    [
      "GitLab token",
      "curl --header 'PRIVATE-TOKEN: glpat-AbCdEfGhIjKlMnOpQrSt' https://gitlab.example",
      "glpat-[redacted]",
      "AbCdEfGhIj",
    ],
    [
      "Slack bot token",
      "SLACK=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
      "xoxb-[redacted]",
      "123456789012",
    ],
    [
      "Slack webhook",
      "curl -X POST https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX",
      "https://hooks.slack.com/services/[redacted]",
      "T000/B000",
    ],
    ["Stripe live secret key", "stripe --api-key sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_[redacted]", "4eC39HqLyj"],
    ["Stripe restricted key", "rk_live_51H8AbCdEfGhIjKlMn", "rk_live_[redacted]", "51H8AbCd"],
    [
      "OpenAI key",
      "export OPENAI_API_KEY=sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz012345",
      "OPENAI_API_KEY=sk-proj-[redacted]",
      "AbCdEfGhIj",
    ],
    ["Anthropic key", "x-api-key: sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx", "sk-ant-[redacted]", "api03-AbCd"],
    [
      "Google API key",
      "curl 'https://maps.example/api?key=AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q'",
      "AIza[redacted]",
      "SyA1b2C3",
    ],
    ["JWT", `curl -H "X-Session: ${JWT}" https://a.example`, `X-Session: ${REDACTED}`, "eyJzdWIi"],
    [
      "bearer token",
      'curl -H "Authorization: Bearer abc.def-123_XYZ" https://a.example',
      "Authorization: Bearer [redacted]",
      "abc.def-123_XYZ",
    ],
    [
      "basic auth header",
      "Authorization: Basic dXNlcjpodW50ZXIy",
      "Authorization: Basic [redacted]",
      "dXNlcjpodW50ZXIy",
    ],
    [
      "npm token",
      "//registry.npmjs.org/:_authToken=npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
      "_authToken=",
      "AbCdEfGhIj",
    ],
    [
      "Hugging Face token",
      "huggingface-cli login --token hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234",
      "--token hf_[redacted]",
      "AbCdEfGhIj",
    ],
    ["password option with =", "mysqldump --user=root --password=hunter2 db", "--password=[redacted] db", "hunter2"],
    ["password option with a space", "psql --password hunter2 -h db", "--password [redacted] -h db", "hunter2"],
    ["mysql -p glued", "mysql -u root -phunter2 shop", "-p[redacted] shop", "hunter2"],
    ["mariadb -p glued and quoted", "mariadb -u root -p'hunt er2' shop", "-p'[redacted]' shop", "hunt er2"],
    ["sshpass -p", "sshpass -p hunter2 ssh ada@host", "sshpass -p [redacted] ssh", "hunter2"],
    ["sshpass -p glued", "sshpass -phunter2 ssh ada@host", "sshpass -p[redacted] ssh", "hunter2"],
    ["curl -u user:pass", "curl -u ada:hunter2 https://a.example", "-u ada:[redacted] https", "hunter2"],
    ["curl --user user:pass", "curl --user 'ada:hunter2' https://a.example", "--user 'ada:[redacted]'", "hunter2"],
    ["redis-cli -a", "redis-cli -h cache -a s3cr3t ping", "-a [redacted] ping", "s3cr3t"],
    ["smbclient -U user%pass", "smbclient //srv/share -U ada%hunter2", "-U ada%[redacted]", "hunter2"],
    ["openssl pass:", "openssl enc -aes256 -pass pass:hunter2 -in a", "-pass pass:[redacted] -in", "hunter2"],
    ["assignment", "PASSWORD=hunter2 ./deploy.sh", "PASSWORD=[redacted] ./deploy.sh", "hunter2"],
    ["export of a token", 'export GITHUB_TOKEN="tok123abc"', 'GITHUB_TOKEN="[redacted]"', "tok123abc"],
    ["camel-case name", "dbPassword: 'hunter2'", "dbPassword: '[redacted]'", "hunter2"],
    [
      "JSON key",
      '{"api_key": "abc123def456", "user": "ada"}',
      '"api_key": "[redacted]", "user": "ada"',
      "abc123def456",
    ],
    ["YAML secret", "client_secret: 9f8e7d6c5b4a", "client_secret: [redacted]", "9f8e7d6c5b4a"],
    ["query-string token", "curl 'https://api.example/v1?token=abc123&x=1'", "token=[redacted]&x=1", "abc123"],
    ["random-looking key of any name", "STRIPE_KEY=q8Zp2Lx7Vb4Nm1Kj9Hg6", "STRIPE_KEY=[redacted]", "q8Zp2Lx7"],
    [
      "URL credentials",
      "git push https://ada:hunter2@git.example/r.git",
      "https://ada:[redacted]@git.example/r.git",
      "hunter2",
    ],
    [
      "database URL credentials",
      "psql postgres://app:s3cr3t@db:5432/shop",
      "postgres://app:[redacted]@db:5432/shop",
      "s3cr3t",
    ],
  ])("%s", (_what, text, kept, gone) => {
    const out = redact(text);
    expect(out).toContain(kept);
    expect(out).not.toContain(gone);
  });

  it("hides a PEM private key block whole, and one cut off before its end", () => {
    const pem =
      "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nQyNTUxOQAAACDx\n-----END OPENSSH PRIVATE " +
      "KEY-----";
    expect(redact(`cat id_ed25519\n${pem}\n$ ls`)).toBe(
      `cat id_ed25519\n-----BEGIN OPENSSH PRIVATE KEY-----${REDACTED}-----END OPENSSH PRIVATE KEY-----\n$ ls`,
    );
    const cut = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7";
    expect(redact(cut)).not.toContain("MIIEow");
  });

  it("counts what it hid, once per secret", () => {
    expect(redactSecrets("PASSWORD=a TOKEN=b ls").count).toBe(2);
    expect(redactSecrets("ls -la").count).toBe(0);
  });

  it("is idempotent: redacting twice changes nothing more", () => {
    const once = redact(`mysql -phunter2; export API_KEY=abc; curl -u a:b https://x:y@h; ${GITHUB}`);
    expect(redact(once)).toBe(once);
  });
});

describe("redact: ordinary text stays as it is", () => {
  it.each([
    "ls -la ~/projects",
    "git log --oneline -n 3\n9fceb02 Fix the parser\n3b18e51 Add tests",
    "git show 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "sha256sum a.iso: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    "docker pull nginx@sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    "id 123e4567-e89b-12d3-a456-426614174000",
    "cat /etc/passwd | cut -d: -f1",
    "sudo passwd ada",
    "mkdir -p build/out && ssh -p 2222 host",
    "mysql -u root -p shop",
    "docker login --password-stdin < token.txt",
    "docker run -u 1000:1000 -v $PWD:/src alpine",
    "gpg --list-secret-keys alice",
    "ansible-playbook --ask-pass site.yml",
    "export PASSWORD=$DB_PASSWORD",
    'export GITHUB_TOKEN="$(pass show github)"',
    "echo $API_KEY",
    "PWD=/home/ada OLDPWD=/tmp",
    "TOKEN_FILE=/run/secrets/token cat $TOKEN_FILE",
    "sort --key=2 -t, data.csv",
    "max_tokens=512 temperature=0.2",
    "curl https://example.com/a/b?page=2",
    "https://ada@git.example/r.git",
    "Password:",
    "The bearer of this letter is welcome.",
    "Basic usage: caro list files",
    "BYPASS_CACHE=1 make",
    "auth: true",
    "tar -xzf backup.tar.gz -C /tmp",
  ])("%s", (text) => {
    expect(redact(text)).toBe(text);
  });
});

describe("namesSecret", () => {
  it.each([
    "PASSWORD",
    "db_password",
    "dbPass",
    "GITHUB_TOKEN",
    "api-key",
    "apiKey",
    "AWS_SECRET_ACCESS_KEY",
    "client_secret",
    "X_AUTH_TOKEN",
    "passwd",
    "credentials",
    "PGPASSWORD",
    "authtoken",
  ])("%s names a secret", (name) => expect(namesSecret(name)).toBe(true));
  it.each([
    "PWD",
    "OLDPWD",
    "TOKEN_FILE",
    "password_length",
    "key",
    "BYPASS",
    "compass",
    "auth",
    "token_type",
    "credential.helper",
    "USER",
  ])("%s does not", (name) => expect(namesSecret(name)).toBe(false));
});

describe("redact: file names and nested assignments", () => {
  it("looks inside a value that is itself an assignment", () => {
    expect(redact("folder: password=hunter2.txt notes.md")).toBe("folder: password=[redacted] notes.md");
    expect(redact("mount -o user=ada,password=hunter2 //srv/x /mnt")).toBe(
      "mount -o user=ada,password=[redacted] //srv/x /mnt",
    );
  });
});
