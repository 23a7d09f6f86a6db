// Preloaded into the jsii kernel (node --require) by modules/cdk.py.
//
// Why: a prebuilt provider's lib/index.js is ~2,200 lines that each require one resource module,
// so loading the assembly requires every resource module (~600 MB for the AWS provider),
// although an app uses a few dozen. The kernel finds a class by walking
// closure[namespace][name], so turning each line into a getter that requires the module
// on first access loads only what the app uses. Two layouts are known:
//   cdktf (@cdktf/provider-*):  exports.vpc = require("./vpc");
//   cdktn (@cdktn/provider-*):  exports.vpc = __importStar(require("./vpc/index"));
// Anything that does not match either shape is left untouched (the eager behaviour is the
// fallback), so tests/unit/test_lazy_loading.py proves per flavour that the hook is active.
"use strict";

const Module = require("module");

const PROVIDER_INDEX = /[\\/]@cdkt[fn][\\/]provider-[^\\/]+[\\/]lib[\\/]index\.js$/;
const EAGER_EXPORT =
  /^exports\.([A-Za-z_$][\w$]*) = (__importStar\()?require\(("\.\/[\w./-]+")\)(\))?;$/gm;

function lazyExport(name, path, wrapper) {
  const load = wrapper ? `__importStar(require(${path}))` : `require(${path})`;
  return (
    `Object.defineProperty(exports, ${JSON.stringify(name)}, { configurable: true, enumerable: true, ` +
    `get() { const m = ${load}; ` +
    `Object.defineProperty(exports, ${JSON.stringify(name)}, { value: m, enumerable: true }); return m; } });`
  );
}

const originalCompile = Module.prototype._compile;
Module.prototype._compile = function compile(content, filename) {
  if (PROVIDER_INDEX.test(filename)) {
    content = content.replace(EAGER_EXPORT, (line, name, open, path, close) =>
      // `__importStar(` and its closing `)` come as a pair, or the line is not ours to change.
      Boolean(open) === Boolean(close) ? lazyExport(name, path, Boolean(open)) : line,
    );
  }
  return originalCompile.call(this, content, filename);
};
