// ESLint for the editor code, which has no build step and nothing else checks it: the plain
// browser scripts of resources/ and the inline scripts of nodes/*.html (registerType, validators,
// oneditprepare), read out of the HTML by eslint-plugin-html. The recommended rules (no-undef,
// no-unused-vars, no-redeclare...) plus a few that catch real bugs in this style of code.
// `npm test` runs it (test/editor/resources-lint.test.js). The TypeScript in src/ is checked by tsc.
"use strict";
const js = require("@eslint/js");
const globals = require("globals");
const html = require("eslint-plugin-html");

const EDITOR = ["resources/**/*.js", "nodes/*.html"];

module.exports = [
  // The Dashboard 2.0 widget bundles: built from ui/ by scripts/build-ui.js (vite compiles them).
  { ignores: ["resources/ui-twin-*.umd.js"] },
  {
    files: EDITOR,
    ...js.configs.recommended,
  },
  {
    files: EDITOR,
    languageOptions: {
      ecmaVersion: 2018,
      sourceType: "script",
      globals: {
        ...globals.browser,
        ...globals.jquery,
        RED: "readonly",
        // this package's own namespaces, shared between its resource files and the .html
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
      "no-empty": ["error", { allowEmptyCatch: true }],
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
      "default-param-last": "error",
      "no-constructor-return": "error",
      "no-promise-executor-return": "error",
    },
  },
  {
    files: ["nodes/*.html"],
    plugins: { html },
    languageOptions: {
      globals: {
        // the editor's JSONata, which twin-query's dialog uses to check an expression
        jsonata: "readonly",
      },
    },
    rules: {
      // a node's registerType call runs at the top level of its <script>, as Node-RED documents it
      strict: "off",
    },
  },
];
