import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The parts of a machine of a test's making that grounded answers are checked against: a manual
// page in a MANPATH of its own, and a folder whose entries and branch the model is told.

export const fixtureTemp = () => mkdtempSync(join(tmpdir(), "caro-fixture-"));

/** A MANPATH holding frob's page, which names one long option: --fast. */
export function fixtureManPath(): string {
  const man = fixtureTemp();
  mkdirSync(join(man, "man1"));
  writeFileSync(join(man, "man1", "frob.1"), ".SH SYNOPSIS\nfrob [OPTION]\n.TP\n\\fB\\-\\-fast\\fR\ngo fast\n");
  return man;
}

/** A folder of twenty entries (a project file and two folders among them) in a repository on branch feature. */
export function fixtureFolder(): string {
  const cwd = fixtureTemp();
  mkdirSync(join(cwd, ".git"));
  writeFileSync(join(cwd, ".git", "HEAD"), "ref: refs/heads/feature\n");
  for (const d of ["src", "docs"]) mkdirSync(join(cwd, d));
  writeFileSync(join(cwd, "package.json"), "{}");
  for (let i = 0; i < 17; i++) writeFileSync(join(cwd, `note-${String(i).padStart(2, "0")}.txt`), "");
  return cwd;
}
