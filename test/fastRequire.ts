/**
 * Loaded by mocha after `tsx/cjs` (`.mocharc.json`): the dependencies' CommonJS files load as plain
 * Node loads them. tsx's `.js` hook reads every file that mentions `import` or `export` (every
 * compiled CommonJS module: `exports.`) and lexes it for ESM syntax; Node then reads the `.js.map`
 * next to each (Pulumi ships one per file), because tsx turns source maps on. For the providers
 * and the AWS SDK that was about 0.8 s of CPU in each mocha worker, 40 % of its start. Our own
 * TypeScript still goes through tsx, with source maps: failures point at the `.ts` lines. A file
 * Node cannot compile as CommonJS (ESM syntax in a package not typed `module`) goes to tsx as
 * before; so do the files of packages typed `module`.
 */
import * as fs from "fs";
import Module from "module";
import * as path from "path";

type Loader = (
  module: NodeJS.Module & { _compile(code: string, file: string): void },
  file: string,
) => void;
const extensions = (Module as unknown as { _extensions: Record<string, Loader> })._extensions;
const tsxLoader = extensions[".js"];
const NODE_MODULES = `${path.sep}node_modules${path.sep}`;
const packageTypes = new Map<string, string>();

/** The `type` of the nearest `package.json` above `dir` (Node's rule for `.js` files). */
function packageType(dir: string): string {
  let type = packageTypes.get(dir);
  if (type !== undefined) return type;
  const manifest = path.join(dir, "package.json");
  if (fs.existsSync(manifest)) {
    try {
      type =
        (JSON.parse(fs.readFileSync(manifest, "utf8")) as { type?: string }).type ?? "commonjs";
    } catch {
      type = "commonjs";
    }
  } else {
    const parent = path.dirname(dir);
    type = parent === dir ? "commonjs" : packageType(parent);
  }
  packageTypes.set(dir, type);
  return type;
}

extensions[".js"] = (module, file) => {
  if (!file.includes(NODE_MODULES) || packageType(path.dirname(file)) === "module") {
    return tsxLoader(module, file);
  }
  const code = fs.readFileSync(file, "utf8");
  const sourceMaps = process.sourceMapsEnabled;
  process.setSourceMapsEnabled(false);
  try {
    module._compile(code, file);
  } catch (error) {
    // V8 compiles the whole file before it runs a line of it: a SyntaxError with nothing required
    // and nothing exported yet is taken for the compile's, and tsx gets the file. (A module that
    // throws one itself before it requires or exports anything would run, and throw, twice.)
    const ranNothing = module.children.length === 0 && Object.keys(module.exports).length === 0;
    if (!(error instanceof SyntaxError) || !ranNothing) throw error;
    process.setSourceMapsEnabled(sourceMaps);
    return tsxLoader(module, file);
  } finally {
    process.setSourceMapsEnabled(sourceMaps);
  }
};
