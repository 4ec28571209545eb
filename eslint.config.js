// ESLint for the editor code in resources/ (plain browser scripts, no build step): the recommended
// rules (no-undef, no-unused-vars, no-redeclare...) plus a few that catch real bugs in this style
// of code. `npm test` runs it (test/lint.test.js). The TypeScript in src/ is checked by tsc.
"use strict";
const js = require("@eslint/js");
const globals = require("globals");

module.exports = [
  {
    files: ["resources/**/*.js"],
    ...js.configs.recommended,
  },
  {
    files: ["resources/**/*.js"],
    languageOptions: {
      ecmaVersion: 2018,
      sourceType: "script",
      globals: {
        ...globals.browser,
        ...globals.jquery,
        RED: "readonly",
        // this package's own namespaces, shared between its resource files
        TwinwireEditor: "writable",
        TwinwireSidebar: "writable",
      },
    },
    rules: {
      eqeqeq: "error",
      "no-implicit-globals": "error",
      "no-shadow": ["error", { builtinGlobals: false }],
      "no-use-before-define": ["error", { functions: false, variables: true }],
      "no-unused-vars": ["error", { args: "after-used", caughtErrors: "none" }],
      "no-var": "off",
      strict: ["error", "function"],
      "no-eval": "error",
      "no-implied-eval": "error",
      "no-new-func": "error",
      "no-loop-func": "error",
      "no-self-compare": "error",
      "no-template-curly-in-string": "error",
      "no-unmodified-loop-condition": "error",
      "no-unreachable-loop": "error",
      "array-callback-return": "error",
      "consistent-return": "off",
      "default-param-last": "error",
      "no-constructor-return": "error",
      "no-promise-executor-return": "error",
    },
  },
];
