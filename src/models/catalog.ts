// Models caro knows by name. Sizes are the hub's file sizes; memory is what llama.cpp needs to
// run one with caro's 2048-token context (weights, KV cache and buffers), measured or estimated.

export interface CatalogModel {
  name: string;
  uri: string;
  sizeBytes: number;
  memoryBytes: number;
  note: string;
}

const GB = 1e9;

export const CATALOG: CatalogModel[] = [
  {
    name: "qwen2.5-coder-0.5b",
    uri: "hf:Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sizeBytes: 0.49 * GB,
    memoryBytes: 0.8 * GB,
    note: "fastest; for slow machines, weaker on unusual requests",
  },
  {
    name: "qwen2.5-coder-1.5b",
    uri: "hf:Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sizeBytes: 1.12 * GB,
    memoryBytes: 1.6 * GB,
    note: "the default: quick on a laptop CPU, good commands",
  },
  {
    name: "qwen2.5-coder-3b",
    uri: "hf:Qwen/Qwen2.5-Coder-3B-Instruct-GGUF/qwen2.5-coder-3b-instruct-q4_k_m.gguf",
    sizeBytes: 2.1 * GB,
    memoryBytes: 2.8 * GB,
    note: "better answers; wants a GPU or a fast CPU",
  },
  {
    name: "qwen2.5-coder-7b",
    uri: "hf:bartowski/Qwen2.5-Coder-7B-Instruct-GGUF/Qwen2.5-Coder-7B-Instruct-Q4_K_M.gguf",
    sizeBytes: 4.68 * GB,
    memoryBytes: 5.6 * GB,
    note: "best answers; wants a GPU with 6 GB",
  },
  {
    name: "llama3.2-3b",
    uri: "hf:bartowski/Llama-3.2-3B-Instruct-GGUF/Llama-3.2-3B-Instruct-Q4_K_M.gguf",
    sizeBytes: 2.02 * GB,
    memoryBytes: 2.7 * GB,
    note: "a general model, for requests in many languages",
  },
];

export function catalogModel(name: string): CatalogModel | undefined {
  return CATALOG.find((m) => m.name === name.toLowerCase());
}
