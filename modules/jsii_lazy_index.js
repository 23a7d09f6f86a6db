// Preloaded into the jsii kernel (node --require) by modules/cdk.py.
//
// Why: a prebuilt cdktf provider's lib/index.js is ~2,200 lines of
//   exports.vpc = require("./vpc");
// so loading the assembly requires every resource module (~600 MB for the AWS provider),
// although an app uses a few dozen. The kernel finds a class by walking
// closure[namespace][name], so turning each line into a getter that requires the module
// on first access loads only what the app uses. Anything that does not match the
// expected shape is left untouched (the eager behaviour is the fallback).
"use strict";

const Module = require("module");

const PROVIDER_INDEX = /[\\/]@cdktf[\\/]provider-[^\\/]+[\\/]lib[\\/]index\.js$/;
const EAGER_EXPORT = /^exports\.([A-Za-z_$][\w$]*) = require\(("\.\/[\w./-]+")\);$/gm;

function lazyExport(name, path) {
  return (
    `Object.defineProperty(exports, ${JSON.stringify(name)}, { configurable: true, enumerable: true, ` +
    `get() { const m = require(${path}); ` +
    `Object.defineProperty(exports, ${JSON.stringify(name)}, { value: m, enumerable: true }); return m; } });`
  );
}

const originalCompile = Module.prototype._compile;
Module.prototype._compile = function compile(content, filename) {
  if (PROVIDER_INDEX.test(filename)) {
    content = content.replace(EAGER_EXPORT, (_line, name, path) => lazyExport(name, path));
  }
  return originalCompile.call(this, content, filename);
};
