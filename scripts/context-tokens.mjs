#!/usr/bin/env node
// What the context caro adds costs in tokens: the tool lines (once per evaluation of the fixed
// prompt) and the folder lines (per request, unless the last request came from the same folder),
// for this machine's PATH and a folder, counted by a model's own tokenizer (loaded vocabulary only).
//
//   npm run build && node scripts/context-tokens.mjs MODEL.gguf [FOLDER] [ENTRIES...]
//
// A vocabulary-only GGUF is enough, e.g. llama.cpp's models/ggml-vocab-qwen2.gguf (Qwen2.5's).

import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const [modelPath, folder = process.cwd(), ...counts] = process.argv.slice(2);
if (!modelPath) {
  console.error("usage: node scripts/context-tokens.mjs MODEL.gguf [FOLDER] [ENTRIES...]");
  process.exit(2);
}
const { inventoryText, machineInventory } = await import("../dist/grounding/inventory.js");
const { folderContext, folderLines } = await import("../dist/grounding/folder.js");

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, vocabOnly: true });
const tokens = (text) => model.tokenize(text).length;
const row = (what, text) => console.log(`${String(tokens(text)).padStart(5)}  ${what}: ${JSON.stringify(text)}`);

row("tool lines (fixed prompt)", inventoryText(machineInventory(process.env.PATH)));
for (const entries of counts.length ? counts.map(Number) : [0, 4, 8, 12, 16]) {
  // The same bound as the pipeline's: 16 characters an entry (src/grounding/context.ts).
  const lines = folderLines(folderContext(folder, { maxEntries: entries, maxChars: entries * 16 }));
  // With the newline that joins them to the message.
  row(`folder lines, ${entries} entries`, lines.map((line) => `${line}\n`).join(""));
}
await model.dispose();
await llama.dispose();
