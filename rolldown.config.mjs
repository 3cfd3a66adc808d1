// The command line's code as CommonJS chunks (dist/cjs/), built from tsc's output in dist/.
// Why: Node 20 starts an ES module loader for the first `import` a process makes, about 7 ms, and
// compiles each ES module on its own; `caro --version` paid 1.36x `node -e 0` for that alone. The
// CommonJS chunks load with require(), one chunk per piece each command needs, so a command still
// loads only its own code (one single file was slower: Node compiles all of it). The daemon's
// inference worker and the shell's session client stay ES modules: each loads once, for a long life.
// Native and large packages stay outside, loaded from node_modules as before.
export default {
  input: { main: "dist/cli/main.js", widget: "dist/shell/widget.js", session: "dist/shell/session.js" },
  platform: "node",
  external: [/^node:/, /^node-llama-cpp(\/|$)/, /^piscina(\/|$)/, /^tree-sitter(-bash)?(\/|$)/, /^web-tree-sitter(\/|$)/],
  logLevel: "warn",
  output: {
    dir: "dist/cjs",
    format: "cjs",
    entryFileNames: "[name].cjs",
    chunkFileNames: "[name]-[hash].cjs",
    // node-llama-cpp is an ES module: it must stay an import(), which require() cannot load.
    dynamicImportInCjs: true,
    cleanDir: true,
  },
};
