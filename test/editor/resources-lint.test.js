"use strict";
// The editor's code in resources/ (plain browser scripts, no build step, nothing else checks
// them): ESLint with eslint.config.js, so an undefined name, an unused variable or == fails
// `npm test` here instead of in a user's browser. Fix with `npx eslint resources`.
const assert = require("node:assert/strict");
const path = require("path");
const { ESLint } = require("eslint");

const root = path.join(__dirname, "..", "..");

describe("editor resources: lint", function () {
  this.timeout(60000);
  const eslint = new ESLint({ cwd: root });

  it("resources/**/*.js has no ESLint error or warning", async function () {
    const results = await eslint.lintFiles(["resources/**/*.js"]);
    const linted = results.map((r) => path.relative(root, r.filePath).split(path.sep).join("/"));
    assert.ok(linted.includes("resources/sidebar/sidebar.js"), `linted ${linted.join(", ")}`);
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
});
