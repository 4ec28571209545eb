// Builds the Dashboard 2.0 widgets: each Vue component under ui/ becomes resources/<type>.umd.js,
// the UMD bundle the Dashboard loads from /resources/<package>/ (package.json's
// "node-red-dashboard-2" section names them). The library name is the widget type because the
// Dashboard looks the component up as window[<type>][<component>]. Vue is the Dashboard's own
// (external, global `Vue`). Called by scripts/build.js; vite is a devDependency, so an install
// without dev dependencies keeps the bundles it shipped with.
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");

async function buildUi({ quiet = false } = {}) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  const widgets = Object.entries((pkg["node-red-dashboard-2"] || {}).widgets || {});
  let vite;
  let vue;
  try {
    vite = await import("vite");
    vue = (await import("@vitejs/plugin-vue")).default;
  } catch {
    const missing = widgets.filter(([, w]) => !fs.existsSync(path.join(root, "resources", w.output)));
    if (missing.length) throw new Error(`build: vite is not installed, so the dashboard widgets (${missing.map(([t]) => t).join(", ")}) cannot be built; run npm install`);
    console.log("build: vite not installed, keeping the built dashboard widgets");
    return 0;
  }
  for (const [type, widget] of widgets) {
    await vite.build({
      configFile: false,
      root,
      logLevel: quiet ? "silent" : "warn",
      plugins: [vue()],
      define: { "process.env.NODE_ENV": JSON.stringify("production") },
      build: {
        lib: {
          entry: path.join(root, "ui", type, "index.js"),
          name: type,
          formats: ["umd"],
          fileName: () => widget.output,
        },
        outDir: path.join(root, "resources"),
        emptyOutDir: false,
        copyPublicDir: false,
        reportCompressedSize: false,
        rollupOptions: { external: ["vue"], output: { globals: { vue: "Vue" } } },
      },
    });
  }
  return widgets.length;
}

module.exports = { buildUi };

if (require.main === module) {
  buildUi().then((n) => console.log(`build: ${n} dashboard widgets`), (err) => {
    console.error(err.message || err);
    process.exit(1);
  });
}
