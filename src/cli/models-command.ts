import { writeOut } from "./closed-output.js";
import { existsSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { basename, join } from "node:path";
import { draftSchema } from "../answer/draft.js";
import { EmbeddedBackend } from "../backends/embedded.js";
import { loadConfig } from "../config/load.js";
import { modelsDir } from "../config/paths.js";
import { UsageError } from "../errors.js";
import { cachedUrlPath, downloadedFiles, findDownloaded, removeDownloaded } from "../models/cache.js";
import { CATALOG, catalogModel, NL2SH } from "../models/catalog.js";
import { downloadModel, type ModelSource } from "../models/download.js";
import { cachedModelPath, hfModelOf, parseHfUri } from "../models/hf.js";
import { progressReporter } from "./progress.js";
import { accuracy, seconds } from "../models/suggest.js";
import { parseStrict } from "./args.js";
import { COMMANDS } from "./commands.js";
import { optionLines } from "./help.js";
import { probeMachine, TEST_MACHINE_ENV } from "./machine.js";
import { adviceFor, adviceJson } from "./model-advice.js";
import { say, warn } from "./output.js";
import { warmPrompt } from "../answer/request-prompt.js";
import { shellFromEnvironment } from "../prompt/shells.js";
import { formatBytes } from "../text/bytes.js";

const usage =
  "usage: caro models list | pull <name | hf:user/repo/file.gguf | https://…/file.gguf> | rm <name | file> | path";

const modelsArgs = COMMANDS.models.args;

export const help = `caro models: the model catalog and the downloaded models

Usage
  caro models list [--json]    The catalog, which models are downloaded, other GGUF files there,
                               and the model this machine should run, with why
  caro models pull <model>     Download a model: a name from the list, hf:user/repo/file.gguf,
                               or an https URL of a .gguf file
  caro models rm <model>       Delete a downloaded model (a name from the list, or a file name)
  caro models path             The folder models are downloaded to

Options
${optionLines(modelsArgs)}

Examples
  caro models pull qwen2.5-coder-1.5b
  caro models pull hf:Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
`;

/** A catalog name, an hf: URI or an https URL, as where it comes from and the file it becomes here. */
function target(spec: string): { source: ModelSource; path: string } {
  const hf = hfModelOf(spec);
  if (hf) return { source: hf, path: cachedModelPath(hf) };
  if (/^https?:\/\/\S+\.gguf(\?\S*)?$/i.test(spec)) {
    return { source: { url: spec }, path: cachedUrlPath(spec) };
  }
  throw new UsageError(
    `unknown model "${spec}": use a name from caro models list, hf:user/repo/file.gguf or an https URL of a .gguf file`,
  );
}

async function list(json: boolean): Promise<void> {
  const config = loadConfig();
  const advice = adviceFor(config, await probeMachine(config));
  const { suggestion } = advice;
  const rows = CATALOG.map((m, i) => {
    const path = cachedModelPath(parseHfUri(m.uri)!);
    const fit = suggestion.fits[i];
    return {
      name: m.name,
      size_bytes: m.sizeBytes,
      memory_bytes: m.memoryBytes,
      downloaded: existsSync(path),
      default: m === advice.configuredModel,
      suggested: m === suggestion.model,
      nl2sh: m.nl2sh,
      on: fit.on,
      answer_s_estimate: Math.round(fit.answer_s * 100) / 100,
      problem: fit.problem,
      path,
      uri: m.uri,
      note: m.note,
    };
  });
  const known = new Set(rows.map((r) => r.path));
  const others = downloadedFiles().filter((f) => !known.has(join(modelsDir(), f)));
  if (json) {
    const suggested = adviceJson(advice);
    const nl2sh_source = NL2SH;
    const other_files = others.map((f) => join(modelsDir(), f));
    writeOut(`${JSON.stringify({ models: rows, other_files, suggestion: suggested, nl2sh_source })}\n`);
    return;
  }
  const columns: [string, number][] = [
    ["", 3],
    ["NAME", 22],
    ["SIZE", 10],
    ["MEMORY", 10],
    ["HERE", 6],
    ["NL2SH", 7],
    ["ANSWER", 9],
  ];
  const line = (cells: string[], note: string) =>
    `${cells.map((cell, i) => cell.padEnd(columns[i][1])).join("")}${note}\n`;
  writeOut(
    line(
      columns.map(([title]) => title),
      "NOTE",
    ),
  );
  for (const [i, r] of rows.entries()) {
    const mark = `${r.default ? "*" : " "}${r.suggested ? "+" : " "}`;
    const size = [formatBytes(r.size_bytes), formatBytes(r.memory_bytes), r.downloaded ? "yes" : "-"];
    writeOut(line([mark, r.name, ...size, accuracy(r.nl2sh), seconds(suggestion.fits[i].answer_s)], r.note));
  }
  for (const f of others)
    writeOut(`   ${f}  (${formatBytes(statSync(join(modelsDir(), f)).size)}, not in the catalog)\n`);
  const source = advice.fake ? ` (a machine described by $${TEST_MACHINE_ENV})` : "";
  writeOut(
    `\n* the configured model, + the one for this machine. Files live in ${modelsDir()}\n` +
      `NL2SH: share of the NL2SH benchmark's requests answered right, ${NL2SH.citation} (${NL2SH.url})\n` +
      `ANSWER: seconds for a typical answer on this machine, estimated from its cores, RAM and GPU\n\n` +
      `+ ${suggestion.model.name} for this machine${source}: ${suggestion.reasons.join("; ")}\n` +
      `  ${advice.comparison}\n${advice.how ? `  to switch: ${advice.how}\n` : ""}`,
  );
}

async function pull(spec: string, signal: AbortSignal): Promise<void> {
  const { source, path } = target(spec);
  if (existsSync(path)) {
    say(`${basename(path)} is already downloaded: ${path}`);
    return;
  }
  const progress = progressReporter();
  await downloadModel(source, path, { signal, onProgress: (p) => progress.update(p) });
  progress.done();
  await warm(path);
  writeOut(`${path}\n`);
}

/**
 * Loads the new model once and evaluates caro's instructions with it, saving that state in the
 * prefix cache: the daemon that later loads this model starts from it, so even its first answer
 * skips the instructions' prefill. The download stands whatever happens here.
 */
async function warm(path: string): Promise<void> {
  let backend: EmbeddedBackend | undefined;
  try {
    const config = loadConfig();
    if (!config.settings["backends.embedded.prefix_cache"]) return;
    const settings = { ...config.settings, "backends.embedded.model": path };
    backend = new EmbeddedBackend(settings, config.env);
    say(`readying ${basename(path)} for its first answer…`);
    const prompt = warmPrompt(shellFromEnvironment(), config.env.HOME ?? homedir(), config.env, settings);
    await backend.warm(prompt, draftSchema(false, settings.max_command_length));
  } catch (error) {
    warn(`downloaded, but not readied for a first answer: ${(error as Error).message}`);
  } finally {
    await backend?.close();
  }
}

function remove(spec: string): void {
  const named = catalogModel(spec) || parseHfUri(spec) || /^https?:\/\//.test(spec) ? target(spec).path : null;
  const found = named ? [named].filter((path) => existsSync(path)) : findDownloaded(spec);
  if (found.length === 0) throw new UsageError(`${basename(named ?? spec)} is not downloaded: see caro models list`);
  if (found.length > 1)
    throw new UsageError(`${spec} names ${found.length} downloaded files: name one of ${found.join(", ")}`);
  removeDownloaded(found[0]);
  say(`removed ${found[0]}`);
}

/** `caro models list|pull|rm|path`. */
export async function runModels(argv: string[], signal: AbortSignal): Promise<void> {
  const args = parseStrict(argv, modelsArgs, "models");
  const [action, spec, ...extra] = args._;
  if (extra.length > 0) throw new UsageError(usage);
  switch (action) {
    case "list":
    case undefined:
      return list(Boolean(args.json));
    case "path":
      writeOut(`${modelsDir()}\n`);
      return;
    case "pull":
      if (!spec) throw new UsageError(usage);
      return pull(spec, signal);
    case "rm":
      if (!spec) throw new UsageError(usage);
      return remove(spec);
    default:
      throw new UsageError(`unknown models action "${action}": ${usage}`);
  }
}
