#!/usr/bin/env node
// Compiles contracts/src/*.sol with solc-js (offline; OpenZeppelin from npm) into
// contracts/artifacts/NAME.json ({contractName, abi, bytecode}), deterministically: the
// metadata hash is left out of the bytecode and the JSON is written with sorted keys.
//
//   node contracts/build.js            write the artifacts
//   node contracts/build.js --check    compile and fail if the committed artifacts differ
//
// The packages come from $R1_CHAIN_TOOLS/node_modules (scripts/setup-chain.sh installs them;
// default ~/.cache/r1/chain-tools).
"use strict";
const fs = require("fs");
const path = require("path");
const os = require("os");

const tools = process.env.R1_CHAIN_TOOLS || path.join(os.homedir(), ".cache", "r1", "chain-tools");
const modules = path.join(tools, "node_modules");
let solc;
try {
  solc = require(path.join(modules, "solc"));
} catch (e) {
  console.error(`solc-js is not installed under ${modules}: run scripts/setup-chain.sh`);
  process.exit(2);
}

const here = __dirname;
const srcDir = path.join(here, "src");
const outDir = path.join(here, "artifacts");
const check = process.argv.includes("--check");

const sources = {};
for (const file of fs.readdirSync(srcDir).filter((f) => f.endsWith(".sol")).sort()) {
  sources[`src/${file}`] = { content: fs.readFileSync(path.join(srcDir, file), "utf8") };
}

const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    metadata: { bytecodeHash: "none", appendCBOR: false },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};

function findImports(name) {
  const resolved = name.startsWith("src/") ? path.join(here, name) : path.join(modules, name);
  try {
    return { contents: fs.readFileSync(resolved, "utf8") };
  } catch (e) {
    return { error: `cannot read ${name} (${resolved})` };
  }
}

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);

function sorted(value) {
  if (Array.isArray(value)) return value.map(sorted);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sorted(value[k])]));
  }
  return value;
}

const artifacts = {};
for (const [file, contracts] of Object.entries(output.contracts)) {
  if (!file.startsWith("src/")) continue;
  for (const [name, c] of Object.entries(contracts)) {
    artifacts[`${name}.json`] =
      JSON.stringify(sorted({ contractName: name, compiler: `solc-js ${solc.version()}`, abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` }), null, 2) + "\n";
  }
}

if (check) {
  const differing = Object.entries(artifacts).filter(([file, text]) => {
    const held = path.join(outDir, file);
    return !fs.existsSync(held) || fs.readFileSync(held, "utf8") !== text;
  });
  const stray = fs.existsSync(outDir)
    ? fs.readdirSync(outDir).filter((f) => f.endsWith(".json") && !(f in artifacts))
    : [];
  if (differing.length || stray.length) {
    console.error(`artifacts differ from a fresh compile: ${[...differing.map(([f]) => f), ...stray].join(", ")}; run node contracts/build.js`);
    process.exit(1);
  }
  console.log(`${Object.keys(artifacts).length} artifacts match a fresh compile (${solc.version()})`);
} else {
  fs.mkdirSync(outDir, { recursive: true });
  for (const [file, text] of Object.entries(artifacts)) fs.writeFileSync(path.join(outDir, file), text);
  console.log(`${Object.keys(artifacts).length} artifacts written to ${outDir} (${solc.version()})`);
}
