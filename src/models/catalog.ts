// Models caro knows by name. Sizes are the hub's file sizes; memory is what llama.cpp needs to
// run one with caro's 2048-token context (weights, KV cache and buffers), measured or estimated.

export interface CatalogModel {
  name: string;
  uri: string;
  sizeBytes: number;
  memoryBytes: number;
  /** Share of NL2SH's requests answered right (see NL2SH below); null where caro knows no published figure. */
  nl2sh: number | null;
  note: string;
}

/**
 * Where the accuracy figures come from: the one published benchmark that runs the commands to check
 * them (two commands are judged the same when they do the same thing, not when they look alike), on
 * 600 hand-checked requests. Each figure is the best the paper reports for that model over the ways
 * of translating it tried (plain, with examples, with parsing, constrained): what a well-built prompt
 * can reach, not what every request gets.
 */
export const NL2SH = {
  citation: 'Westenfelder et al., "LLM-Supported Natural Language to Bash Translation", NAACL 2025',
  url: "https://aclanthology.org/2025.naacl-long.555/",
};

const GB = 1e9;

export const CATALOG: CatalogModel[] = [
  {
    name: "qwen2.5-coder-0.5b",
    uri: "hf:Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sizeBytes: 0.49 * GB,
    memoryBytes: 0.8 * GB,
    nl2sh: 0.36,
    note: "fastest; for slow machines, weaker on unusual requests",
  },
  {
    name: "qwen2.5-coder-1.5b",
    uri: "hf:Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sizeBytes: 1.12 * GB,
    memoryBytes: 1.6 * GB,
    nl2sh: 0.5,
    note: "the default: quick on a laptop CPU, good commands",
  },
  {
    name: "qwen2.5-coder-3b",
    uri: "hf:Qwen/Qwen2.5-Coder-3B-Instruct-GGUF/qwen2.5-coder-3b-instruct-q4_k_m.gguf",
    sizeBytes: 2.1 * GB,
    memoryBytes: 2.8 * GB,
    nl2sh: 0.58,
    note: "better answers; wants a GPU or a fast CPU",
  },
  {
    name: "qwen2.5-coder-7b",
    uri: "hf:bartowski/Qwen2.5-Coder-7B-Instruct-GGUF/Qwen2.5-Coder-7B-Instruct-Q4_K_M.gguf",
    sizeBytes: 4.68 * GB,
    memoryBytes: 5.6 * GB,
    nl2sh: 0.62,
    note: "best answers; wants a GPU with 7 GB",
  },
  {
    name: "llama3.2-3b",
    uri: "hf:bartowski/Llama-3.2-3B-Instruct-GGUF/Llama-3.2-3B-Instruct-Q4_K_M.gguf",
    sizeBytes: 2.02 * GB,
    memoryBytes: 2.7 * GB,
    nl2sh: null,
    note: "a general model, for requests in many languages",
  },
];

export function catalogModel(name: string): CatalogModel | undefined {
  return CATALOG.find((m) => m.name === name.toLowerCase());
}
