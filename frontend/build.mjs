// npm ci && npm run build: bundles echarts-entry.js into one minified script that sets
// `window.echarts`, and copies the licences of what it contains next to it.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";

const out = new URL("../services/reporting/static/vendor/", import.meta.url);
mkdirSync(out, { recursive: true });
const version = JSON.parse(readFileSync(new URL("node_modules/echarts/package.json", import.meta.url))).version;
const zrender = JSON.parse(readFileSync(new URL("node_modules/zrender/package.json", import.meta.url))).version;
const banner = `/*! Apache ECharts ${version} (bar, line, scatter; grid, tooltip, legend, title, aria, markLine; canvas renderer), with ZRender ${zrender}. Licensed under the Apache License 2.0 (echarts.LICENSE.txt, echarts.NOTICE.txt) and BSD-3-Clause (zrender.LICENSE.txt). Built by frontend/build.mjs. */`;

await build({
  entryPoints: [new URL("echarts-entry.js", import.meta.url).pathname],
  bundle: true,
  minify: true,
  format: "iife",
  globalName: "echarts",
  target: ["es2019"],
  legalComments: "none",
  banner: { js: banner },
  outfile: new URL("echarts.min.js", out).pathname,
});
copyFileSync(new URL("node_modules/echarts/LICENSE", import.meta.url), new URL("echarts.LICENSE.txt", out));
copyFileSync(new URL("node_modules/echarts/NOTICE", import.meta.url), new URL("echarts.NOTICE.txt", out));
copyFileSync(new URL("node_modules/zrender/LICENSE", import.meta.url), new URL("zrender.LICENSE.txt", out));
writeFileSync(
  new URL("VERSIONS.txt", out),
  `echarts.min.js: Apache ECharts ${version} with ZRender ${zrender}, from the npm registry.\n` +
    "Rebuild: cd frontend && npm ci && npm run build (esbuild, see frontend/package.json).\n",
);
console.log(`echarts ${version} (zrender ${zrender}) → services/reporting/static/vendor/echarts.min.js`);
