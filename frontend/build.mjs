// Bundles every src/*.js into ../webui/static/dist/<name>.js (one self-contained IIFE each) and
// copies the stylesheets and the icon font the diagrams need, so pages load nothing from outside.
import { build } from "esbuild";
import { cpSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "webui", "static", "dist");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const entries = readdirSync(join(here, "src")).filter((name) => name.endsWith(".js"));
await build({
  entryPoints: entries.map((name) => join(here, "src", name)),
  outdir: out,
  bundle: true,
  format: "iife",
  minify: true,
  target: ["chrome100", "firefox100", "safari15"],
  legalComments: "linked",
  logLevel: "warning",
});

const assets = join(here, "node_modules", "bpmn-js", "dist", "assets");
for (const name of ["diagram-js.css", "bpmn-js.css"]) cpSync(join(assets, name), join(out, name));
cpSync(join(assets, "bpmn-font"), join(out, "bpmn-font"), { recursive: true });
console.log(`built ${entries.join(", ")} into webui/static/dist`);
