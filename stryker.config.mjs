// Mutation testing (`npm run mutate`): StrykerJS changes the TypeScript in small ways (a `<` for a
// `<=`, a condition forced true, a statement removed), builds, and runs the core tests against
// each change; a change no test notices is a "survivor", a gap in the tests.
//
// By default it mutates the durability path (store, journal, registry and its checks, mirror, reading), where the
// target is a score of 85 % or more; MUTATE=all takes the whole of src/core. Incremental: results
// are kept in reports/stryker-incremental.json (committed), so a run re-tests only the mutants
// whose code or tests changed since. The scores and every survivor's explanation are in
// docs/mutation-testing.md.
const all = process.env.MUTATE === "all";

export default {
  packageManager: "npm",
  testRunner: "mocha",
  mochaOptions: {
    spec: ["test/core/**/*.test.js"],
    config: ".mocharc.js",
  },
  checkers: ["typescript"],
  tsconfigFile: "tsconfig.json",
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  // The tests load the build (nodes/lib); each sandbox builds its instrumented copy once.
  buildCommand: "node scripts/build.js",
  mutate: all
    ? ["src/core/**/*.ts"]
    : ["src/core/store/**/*.ts", "src/core/journal.ts", "src/core/registry.ts", "src/core/checks.ts", "src/core/mirror.ts", "src/core/reading.ts"],
  coverageAnalysis: "perTest",
  incremental: true,
  incrementalFile: "reports/stryker-incremental.json",
  concurrency: 2,
  timeoutMS: 10000,
  timeoutFactor: 3,
  reporters: ["clear-text", "progress", "json"],
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  thresholds: { high: 85, low: 70, break: null },
  ignoreStatic: true,
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
};
