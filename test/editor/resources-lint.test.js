"use strict";
// The editor's code (plain browser scripts in resources/ and the inline scripts of nodes/*.html;
// no build step, nothing else checks them): ESLint with eslint.config.js, so an undefined name,
// an unused variable or == fails `npm test` here instead of in a user's browser. `npm run lint`.
const assert = require("node:assert/strict");
const path = require("path");
const { ESLint } = require("eslint");

const root = path.join(__dirname, "..", "..");

const EDITOR = ["resources/**/*.js", "nodes/*.html"];

describe("editor code: lint", function () {
  this.timeout(60000);
  const eslint = new ESLint({ cwd: root });

  it("resources/**/*.js and the scripts of nodes/*.html have no ESLint error or warning", async function () {
    const results = await eslint.lintFiles(EDITOR);
    const linted = results.map((r) => path.relative(root, r.filePath).split(path.sep).join("/"));
    for (const f of ["resources/sidebar/sidebar.js", "resources/editor/dialogs.js", "nodes/twin.html", "nodes/twin-admin-api.html"]) {
      assert.ok(linted.includes(f), `${f} not linted: ${linted.join(", ")}`);
    }
    const problems = results.filter((r) => r.errorCount + r.warningCount > 0);
    if (problems.length) {
      const formatter = await eslint.loadFormatter("stylish");
      assert.fail(await formatter.format(problems));
    }
  });

  it("the config catches what breaks a dialog: an undefined name, an unused variable, ==", async function () {
    const code = '(function () {\n  "use strict";\n  var unused = 1;\n  if (RED.x == 2) undefinedHelper();\n})();\n';
    const [result] = await eslint.lintText(code, { filePath: path.join(root, "resources", "sidebar", "probe.js") });
    const rules = result.messages.map((m) => m.ruleId).sort();
    assert.deepEqual(rules, ["eqeqeq", "no-undef", "no-unused-vars"], JSON.stringify(result.messages));
  });

  it("reads the scripts of a node's .html, not its template or help", async function () {
    const html = '<script type="text/javascript">\n  RED.nodes.registerType("x", { oneditprepare: function () { $("#a").val(missing); } });\n</script>\n' +
      '<script type="text/html" data-template-name="x"><div>{{undefinedInTemplate}}</div></script>\n';
    const [result] = await eslint.lintText(html, { filePath: path.join(root, "nodes", "probe.html") });
    assert.deepEqual(result.messages.map((m) => [m.ruleId, m.line, m.message]), [["no-undef", 2, "'missing' is not defined."]]);
  });
});
