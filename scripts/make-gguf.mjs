#!/usr/bin/env node
// Writes a GGUF model from nothing: qwen2 architecture, random weights, a real byte-level BPE
// tokenizer trained on a small built-in corpus, the ChatML special tokens and a chat template.
// Its text is nonsense, but it loads and runs through llama.cpp exactly like a real model, so
// tests and benchmarks exercise the whole path without any download.
//
//   node scripts/make-gguf.mjs OUT.gguf [--preset tiny|slow|qwen2.5-coder-1.5b]
//     [--steer programs|words|unparsable|none]
//
// --steer biases the output layer (never the grammar) towards a class of tokens, so tests can
// ask for "nonsense that parses as shell" or "nonsense that never does". "programs" keeps to the
// names of harmless programs every system has, so each word of its nonsense, the first included,
// is a program that exists: its answers pass caro's checks against the machine, as a real model's
// right answer would, and tests and benchmarks measure caro rather than the model's luck.

import { openSync, writeSync, closeSync, renameSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";

export const presets = {
  // Loads in tens of milliseconds; for unit and end-to-end tests.
  tiny: { hidden: 128, layers: 2, heads: 4, kvHeads: 2, ffn: 256, vocab: 512, quant: "Q8_0" },
  // Decodes slowly enough on 2 cores to interrupt it mid-answer.
  slow: { hidden: 2048, layers: 6, heads: 16, kvHeads: 2, ffn: 8192, vocab: 4096, quant: "Q4_0" },
  // The exact shape of Qwen2.5-Coder-1.5B-Instruct: real timings without real weights.
  "qwen2.5-coder-1.5b": {
    hidden: 1536,
    layers: 28,
    heads: 12,
    kvHeads: 2,
    ffn: 8960,
    vocab: 151936,
    quant: "Q4_0",
    edgeQuant: true,
  },
};

const GGUF_TYPE = { UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9 };
const GGML_TYPE = { F32: 0, Q4_0: 2, Q8_0: 8 };
const TOKEN_TYPE = { NORMAL: 1, CONTROL: 3, UNUSED: 5 };
const ALIGNMENT = 32;

const CHAT_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + " +
  "'\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

// Harmless whatever their arguments and never reading a terminal: no rm, no cat (stdin), no
// hostname (which sets the name when given one). coreutils or shell builtins, so on every system.
// Repeated in the corpus so that each is one token, with its leading space and without.
const PROGRAMS = [
  "echo",
  "ls",
  "pwd",
  "date",
  "uname",
  "whoami",
  "id",
  "true",
  "printf",
  "basename",
  "dirname",
  "realpath",
  "test",
];

const CORPUS = `
You are a shell command generator. Answer with one command for the user's shell and operating system.
find . -type f -name "*.py" -mtime -7 -size +100M
ls -la | grep -v node_modules && du -sh * | sort -h
git status; git log --oneline -n 10; git diff --stat HEAD~1
tar -czf backup.tar.gz ./src && echo "done"
ps aux | grep node | awk '{print $2}' | head -n 5
sed -i 's/foo/bar/g' file.txt; wc -l README.md; cat /etc/os-release
curl -s https://example.com | jq '.items[] | .name'
chmod +x script.sh && ./script.sh --verbose
docker ps -a; kubectl get pods --namespace default
list all files in the current directory, show disk usage, count lines in every file,
find the largest files, search for text in files, compress the folder, show running processes,
the request is about files and directories and the command should be short and safe.
${` ${PROGRAMS.join(" ")}\n${PROGRAMS.join("\n")}\n`.repeat(6)}`;

// GPT-2's reversible map from bytes to printable characters.
function byteToUnicode() {
  const printable = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const map = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  return map;
}

function trainTokenizer(targetTokens) {
  const b2u = byteToUnicode();
  const encode = (text) => [...Buffer.from(text, "utf8")].map((b) => b2u[b]);
  // caro's own prompt is part of the corpus, so it tokenizes to about as many tokens as with a real
  // vocabulary (a few hundred), not one per byte.
  const prompt = readFileSync(new URL("../src/prompt/prompt.md", import.meta.url), "utf8");
  const pieces =
    `${CORPUS}\n${prompt}\n${prompt}`.match(
      /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu,
    ) ?? [];
  let words = pieces.map(encode);
  const tokens = [...b2u];
  // Byte-level BPE marks its 256 byte tokens NORMAL: llama.cpp reads BYTE as SentencePiece "<0xNN>".
  const types = tokens.map(() => TOKEN_TYPE.NORMAL);
  const known = new Set(tokens);
  const merges = [];
  while (tokens.length < targetTokens) {
    const counts = new Map();
    for (const word of words)
      for (let i = 0; i + 1 < word.length; i++) {
        const pair = `${word[i]}\u0000${word[i + 1]}`;
        counts.set(pair, (counts.get(pair) ?? 0) + 1);
      }
    let best = null;
    let bestCount = 1;
    for (const [pair, count] of counts) if (count > bestCount) [best, bestCount] = [pair, count];
    if (best === null) break;
    const [a, b] = best.split("\u0000");
    merges.push(`${a} ${b}`);
    if (!known.has(a + b)) {
      known.add(a + b);
      tokens.push(a + b);
      types.push(TOKEN_TYPE.NORMAL);
    }
    words = words.map((word) => {
      const out = [];
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(word[i]);
      }
      return out;
    });
  }
  return { tokens, types, merges, b2u };
}

function buildVocab(size) {
  const special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
  const { tokens, types, merges, b2u } = trainTokenizer(Math.min(size - special.length, 4096));
  // Big vocabularies (the benchmark shape) are padded with unused entries: only the shape matters there.
  while (tokens.length < size - special.length) {
    tokens.push(`[PAD${tokens.length}]`);
    types.push(TOKEN_TYPE.UNUSED);
  }
  const firstSpecial = tokens.length;
  tokens.push(...special);
  types.push(TOKEN_TYPE.CONTROL, TOKEN_TYPE.CONTROL, TOKEN_TYPE.CONTROL);
  const u2b = new Map(b2u.map((ch, b) => [ch, b]));
  const text = (token) => {
    const bytes = [...token].map((ch) => u2b.get(ch));
    return bytes.some((b) => b === undefined) ? null : Buffer.from(bytes).toString("latin1");
  };
  return {
    tokens,
    types,
    merges,
    text,
    endOfText: firstSpecial,
    imStart: firstSpecial + 1,
    imEnd: firstSpecial + 2,
  };
}

// +1 favoured, -1 disfavoured, 0 neutral (between, less favoured): the output layer's bias column's sign and size.
function steerSign(steer, tokenText, tokenType) {
  if (steer === "none" || tokenType !== TOKEN_TYPE.NORMAL || tokenText === null) return 0;
  // A name after a space is favoured most; alone, less, so it starts an answer where a grammar
  // wants no leading space (one-line answers) but never glues onto the name before it. A lone
  // letter, less still: what fills the last character or two before a length cap, where no name
  // fits, so that place never gets a quote or a backtick that would not parse.
  if (steer === "programs") {
    if (PROGRAMS.includes(tokenText.trimStart())) return tokenText.startsWith(" ") ? 1 : 0.5;
    return /^[a-z]$/.test(tokenText) ? 0.25 : -1;
  }
  if (steer === "words") return /^ ?[a-z0-9._/-]+$/i.test(tokenText) && /[a-z]/i.test(tokenText) ? 1 : -1;
  if (steer === "unparsable") return /['(]/.test(tokenText) ? 1 : -1;
  throw new Error(`unknown --steer ${steer}`);
}

// A small, fast, seeded generator so the same preset always gives the same bytes.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function f16(value) {
  const f32 = new Float32Array([value]);
  const x = new Uint32Array(f32.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | (mant >>> 13);
}

function tensorBytes(type, count) {
  if (type === GGML_TYPE.F32) return count * 4;
  if (type === GGML_TYPE.Q8_0) return (count / 32) * 34;
  if (type === GGML_TYPE.Q4_0) return (count / 32) * 18;
  throw new Error(`type ${type}`);
}

// Encodes `count` values, produced by `valueAt(i)`, in the given ggml type. For Q4_0 rows,
// `firstBlock(row)` may set each row's first block: [scale, value of element 0], the rest zero.
function encodeTensor(type, count, valueAt, random, firstBlock, rowLength, firstRow) {
  const out = Buffer.alloc(tensorBytes(type, count));
  if (type === GGML_TYPE.F32) {
    for (let i = 0; i < count; i++) out.writeFloatLE(valueAt(i), i * 4);
    return out;
  }
  if (type === GGML_TYPE.Q8_0) {
    const block = new Float32Array(32);
    for (let b = 0; b < count / 32; b++) {
      let max = 0;
      for (let j = 0; j < 32; j++) {
        block[j] = valueAt(b * 32 + j);
        max = Math.max(max, Math.abs(block[j]));
      }
      const d = max / 127 || 1;
      out.writeUInt16LE(f16(d), b * 34);
      for (let j = 0; j < 32; j++) out.writeInt8(Math.round(block[j] / d), b * 34 + 2 + j);
    }
    return out;
  }
  // Q4_0 is only used for the big shapes, where drawing every value would take minutes: random
  // nibbles under one scale give the same distribution for a fraction of the work.
  // Small enough that 28 random layers do not drown the steering dimension of the residual stream.
  const scale = f16(0.002);
  const blocksPerRow = rowLength / 32;
  for (let b = 0; b < count / 32; b++) {
    const set = firstBlock && b % blocksPerRow === 0 ? firstBlock(firstRow + b / blocksPerRow) : null;
    if (set) {
      // Element 0 gets the value (nibble 8 is zero, so the block's other 31 stay zero).
      const [d, value] = set;
      const q = Math.max(0, Math.min(15, Math.round(value / d) + 8));
      out.writeUInt16LE(f16(d), b * 18);
      for (let j = 0; j < 16; j++) out[b * 18 + 2 + j] = 0x88;
      out[b * 18 + 2] = (8 << 4) | q;
      continue;
    }
    out.writeUInt16LE(scale, b * 18);
    // Nibbles 1..15 are -7..7 after the -8 offset: zero mean, so 28 layers add no drift.
    for (let j = 0; j < 16; j++) out[b * 18 + 2 + j] = (((random() * 15) | 0) + 1) | ((((random() * 15) | 0) + 1) << 4);
  }
  return out;
}

function ggufString(text) {
  const bytes = Buffer.from(text, "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(bytes.length));
  return Buffer.concat([len, bytes]);
}

function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
function u64(n) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}
function i32(n) {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
}
function f32(n) {
  const b = Buffer.alloc(4);
  b.writeFloatLE(n);
  return b;
}

function kv(key, type, value) {
  const parts = [ggufString(key), u32(type)];
  if (type === GGUF_TYPE.UINT32) parts.push(u32(value));
  else if (type === GGUF_TYPE.FLOAT32) parts.push(f32(value));
  else if (type === GGUF_TYPE.BOOL) parts.push(Buffer.from([value ? 1 : 0]));
  else if (type === GGUF_TYPE.STRING) parts.push(ggufString(value));
  else if (type === GGUF_TYPE.ARRAY) {
    const [elemType, items] = value;
    parts.push(u32(elemType), u64(items.length));
    for (const item of items) parts.push(elemType === GGUF_TYPE.STRING ? ggufString(item) : i32(item));
  }
  return Buffer.concat(parts);
}

export function makeGguf(outPath, { preset = "tiny", steer = "programs", seed = 1 } = {}) {
  const shape = presets[preset];
  if (!shape) throw new Error(`unknown preset "${preset}": use ${Object.keys(presets).join(", ")}`);
  const { hidden, layers, heads, kvHeads, ffn, vocab: vocabSize, quant, edgeQuant = false } = shape;
  const vocab = buildVocab(vocabSize);
  const kvDim = (hidden / heads) * kvHeads;
  const random = rng(seed);
  const gauss = (sd) => (random() + random() + random() - 1.5) * 2 * sd;
  const matrixType = GGML_TYPE[quant];
  // The output layer and embeddings stay F32 so --steer can set single values, except where the
  // shape must match a real model's file (its 151936-token vocabulary would be 1.8 GB in F32).
  const edgeType = edgeQuant ? GGML_TYPE.Q4_0 : GGML_TYPE.F32;

  const tensors = [];
  const add = (name, dims, type, valueAt, firstBlock) => tensors.push({ name, dims, type, valueAt, firstBlock });
  // Dimension 0 of every embedding carries a large constant, so after the final RMS norm the
  // hidden state always points the same way along it and the output layer's column 0 acts as a bias.
  add(
    "token_embd.weight",
    [hidden, vocabSize],
    edgeType,
    (i) => (i % hidden === 0 ? 4 : gauss(0.05)),
    () => [2, 14],
  );
  add("output_norm.weight", [hidden], GGML_TYPE.F32, () => 1);
  const signs = vocab.tokens.map((token, id) => steerSign(steer, vocab.text(token), vocab.types[id]));
  add(
    "output.weight",
    [hidden, vocabSize],
    edgeType,
    (i) => (i % hidden === 0 ? 0.6 * signs[Math.floor(i / hidden)] : gauss(0.05)),
    (row) => [0.2, 1.2 * signs[row]],
  );
  for (let l = 0; l < layers; l++) {
    const w = (sd) => () => gauss(sd);
    add(`blk.${l}.attn_norm.weight`, [hidden], GGML_TYPE.F32, () => 1);
    add(`blk.${l}.attn_q.weight`, [hidden, hidden], matrixType, w(0.02));
    add(`blk.${l}.attn_q.bias`, [hidden], GGML_TYPE.F32, () => 0);
    add(`blk.${l}.attn_k.weight`, [hidden, kvDim], matrixType, w(0.02));
    add(`blk.${l}.attn_k.bias`, [kvDim], GGML_TYPE.F32, () => 0);
    add(`blk.${l}.attn_v.weight`, [hidden, kvDim], matrixType, w(0.02));
    add(`blk.${l}.attn_v.bias`, [kvDim], GGML_TYPE.F32, () => 0);
    add(`blk.${l}.attn_output.weight`, [hidden, hidden], matrixType, w(0.02));
    add(`blk.${l}.ffn_norm.weight`, [hidden], GGML_TYPE.F32, () => 1);
    add(`blk.${l}.ffn_gate.weight`, [hidden, ffn], matrixType, w(0.02));
    add(`blk.${l}.ffn_up.weight`, [hidden, ffn], matrixType, w(0.02));
    add(`blk.${l}.ffn_down.weight`, [ffn, hidden], matrixType, w(0.02));
  }

  const metadata = [
    kv("general.architecture", GGUF_TYPE.STRING, "qwen2"),
    kv("general.name", GGUF_TYPE.STRING, `caro-test-${preset}`),
    kv("general.alignment", GGUF_TYPE.UINT32, ALIGNMENT),
    kv("qwen2.context_length", GGUF_TYPE.UINT32, 32768),
    kv("qwen2.embedding_length", GGUF_TYPE.UINT32, hidden),
    kv("qwen2.block_count", GGUF_TYPE.UINT32, layers),
    kv("qwen2.feed_forward_length", GGUF_TYPE.UINT32, ffn),
    kv("qwen2.attention.head_count", GGUF_TYPE.UINT32, heads),
    kv("qwen2.attention.head_count_kv", GGUF_TYPE.UINT32, kvHeads),
    kv("qwen2.rope.freq_base", GGUF_TYPE.FLOAT32, 1_000_000),
    kv("qwen2.attention.layer_norm_rms_epsilon", GGUF_TYPE.FLOAT32, 1e-6),
    kv("tokenizer.ggml.model", GGUF_TYPE.STRING, "gpt2"),
    kv("tokenizer.ggml.pre", GGUF_TYPE.STRING, "qwen2"),
    kv("tokenizer.ggml.tokens", GGUF_TYPE.ARRAY, [GGUF_TYPE.STRING, vocab.tokens]),
    kv("tokenizer.ggml.token_type", GGUF_TYPE.ARRAY, [GGUF_TYPE.INT32, vocab.types]),
    kv("tokenizer.ggml.merges", GGUF_TYPE.ARRAY, [GGUF_TYPE.STRING, vocab.merges]),
    kv("tokenizer.ggml.eos_token_id", GGUF_TYPE.UINT32, vocab.imEnd),
    kv("tokenizer.ggml.padding_token_id", GGUF_TYPE.UINT32, vocab.endOfText),
    kv("tokenizer.ggml.bos_token_id", GGUF_TYPE.UINT32, vocab.endOfText),
    kv("tokenizer.ggml.add_bos_token", GGUF_TYPE.BOOL, false),
    kv("tokenizer.chat_template", GGUF_TYPE.STRING, CHAT_TEMPLATE),
  ];

  let offset = 0;
  const infos = tensors.map((t) => {
    const info = Buffer.concat([ggufString(t.name), u32(t.dims.length), ...t.dims.map(u64), u32(t.type), u64(offset)]);
    t.offset = offset;
    t.size = tensorBytes(
      t.type,
      t.dims.reduce((a, b) => a * b, 1),
    );
    offset += Math.ceil(t.size / ALIGNMENT) * ALIGNMENT;
    return info;
  });
  const header = Buffer.concat([
    Buffer.from("GGUF"),
    u32(3),
    u64(tensors.length),
    u64(metadata.length),
    ...metadata,
    ...infos,
  ]);

  // Written beside the target and renamed, so a reader never sees half a model.
  mkdirSync(dirname(outPath), { recursive: true });
  const partial = `${outPath}.${process.pid}.partial`;
  const fd = openSync(partial, "w");
  try {
    writeSync(fd, header);
    writeSync(fd, Buffer.alloc((ALIGNMENT - (header.length % ALIGNMENT)) % ALIGNMENT));
    for (const t of tensors) {
      const count = t.dims.reduce((a, b) => a * b, 1);
      // Row by row, so an 800 MiB model never sits in memory whole.
      const rowLength = t.dims[0];
      const rowsPerChunk = Math.max(1, Math.floor((1 << 22) / rowLength));
      for (let row = 0; row * rowLength < count; row += rowsPerChunk) {
        const start = row * rowLength;
        const n = Math.min(rowsPerChunk * rowLength, count - start);
        writeSync(
          fd,
          encodeTensor(t.type, n, (i) => t.valueAt(start + i), random, t.firstBlock, rowLength, row),
        );
      }
      writeSync(fd, Buffer.alloc(Math.ceil(t.size / ALIGNMENT) * ALIGNMENT - t.size));
    }
  } finally {
    closeSync(fd);
  }
  renameSync(partial, outPath);
  return outPath;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const out = args.find((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
  const option = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
  if (!out) {
    console.error(
      "usage: make-gguf.mjs OUT.gguf [--preset tiny|slow|qwen2.5-coder-1.5b] [--steer programs|words|unparsable|none]",
    );
    process.exit(2);
  }
  const started = Date.now();
  makeGguf(out, { preset: option("preset", "tiny"), steer: option("steer", "programs") });
  console.error(`wrote ${out} in ${Date.now() - started} ms`);
}
