import { existsSync } from "node:fs";
import type { LoadedConfig } from "../config/load.js";
import { CATALOG, catalogModel, type CatalogModel } from "../models/catalog.js";
import { cachedModelPath, parseHfUri } from "../models/hf.js";
import {
  describeSwitch,
  suggestModel,
  switchTo,
  type Machine,
  type Suggestion,
  type Switch,
} from "../models/suggest.js";
import { formatBytes } from "../text/bytes.js";
import type { Check } from "./doctor-check.js";
import { machineWith, TEST_MACHINE_ENV, testMachine } from "./machine.js";

// The model suggestion as doctor and `caro models list` tell it: which model, why, and what the
// configured one costs or gains against it.

export interface Advice {
  machine: Machine;
  /** The machine came from $CARO_TEST_MACHINE, not from this one. */
  fake: boolean;
  suggestion: Suggestion;
  /** The model setting as written. */
  configured: string;
  /** The catalog model the setting names (by name or hf: URI), if it names one. */
  configuredModel: CatalogModel | undefined;
  /**
   * From the configured model to the suggested one; null when they are the same or the configured one is not in the
   * catalog.
   */
  change: Switch | null;
  /** What the switch gains and costs, or why there is nothing to compare, in one sentence. */
  comparison: string;
  /** The commands that make the switch; null when there is none to make. */
  how: string | null;
}

export const isDownloaded = (model: CatalogModel) => existsSync(cachedModelPath(parseHfUri(model.uri)!));

/** The catalog model a model setting names, by its name or its hf: URI. */
export const catalogModelOf = (spec: string) => catalogModel(spec) ?? CATALOG.find((m) => m.uri === spec);

export function adviceFor(config: LoadedConfig, machine: Machine): Advice {
  const suggestion = suggestModel(machine);
  const configured = config.settings["backends.embedded.model"];
  const configuredModel = catalogModelOf(configured);
  const to = suggestion.model;
  const base = { machine, fake: testMachine(config.env) !== null, suggestion, configured, configuredModel };
  if (configuredModel === to) return { ...base, change: null, comparison: "it is the configured model", how: null };
  if (!configuredModel)
    return {
      ...base,
      change: null,
      comparison: `the configured ${configured} is not in the catalog: no published figure to weigh it against`,
      how: null,
    };
  const downloaded = isDownloaded(to);
  const change = switchTo(configuredModel, suggestion, downloaded);
  // Its problem is said once: in the reasons already when it is the model passed over.
  const problem =
    suggestion.passedOver === configuredModel.name
      ? null
      : suggestion.fits.find((f) => f.name === configuredModel.name)?.problem;
  const where =
    config.sources["backends.embedded.model"] === "env"
      ? `set CARO_MODEL=${to.name}`
      : `set [backends.embedded] model = "${to.name}" in ${config.path}`;
  return {
    ...base,
    change,
    comparison:
      `against the configured ${configuredModel.name}${problem ? `, which ${problem}` : ""}, ` +
      `${describeSwitch(configuredModel, suggestion, change)}`,
    how: downloaded ? where : `caro models pull ${to.name} (${formatBytes(to.sizeBytes)}), then ${where}`,
  };
}

/** The machine doctor saw: its GPU check already asked llama.cpp, so it is not asked twice. */
function doctorMachine(config: LoadedConfig, gpu: Check): Machine {
  const inUse = gpu.inUse ?? null;
  return testMachine(config.env) ?? machineWith(inUse, inUse ? [] : (gpu.devices ?? []).map((d) => d.name));
}

/**
 * doctor's line: the model for this machine and why, and the configured one against it. A warning
 * only when the configured catalog model does not suit the machine; a better one is news, not a fault.
 */
export function suggestionCheck(config: LoadedConfig, gpu: Check): Check & { suggestion: object } {
  const advice = adviceFor(config, doctorMachine(config, gpu));
  const { suggestion, configuredModel } = advice;
  const problem = configuredModel && suggestion.fits.find((f) => f.name === configuredModel.name)?.problem;
  const source = advice.fake ? ` (a machine described by $${TEST_MACHINE_ENV})` : "";
  const backend = config.settings.backend;
  const unused =
    backend === "ollama" || backend === "vllm" ? ` for the embedded backend (the config chooses ${backend})` : "";
  const detail = `${suggestion.model.name}${unused}${source}: ${suggestion.reasons.join("; ")}; ${advice.comparison}`;
  return {
    name: "suggest",
    status: problem ? "warn" : "info",
    detail,
    fix: advice.how ?? undefined,
    suggestion: adviceJson(advice),
  };
}

/** The advice as `--json` prints it. */
export function adviceJson(advice: Advice) {
  return {
    model: advice.suggestion.model.name,
    reasons: advice.suggestion.reasons,
    machine: advice.machine,
    machine_source: advice.fake ? TEST_MACHINE_ENV : "this machine",
    configured: advice.configured,
    switch: advice.change,
    comparison: advice.comparison,
    how: advice.how,
    speeds: "estimates",
  };
}
