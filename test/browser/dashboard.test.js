// The Dashboard 2.0 widgets in a real browser: Debian's Chromium, headless, driven by
// playwright-core, against a real Node-RED running the "Plant dashboard" example (Dashboard 2.0
// from the devDependencies). What an operator does: opens /dashboard, sees the simulated pumps in
// the fleet table, live, clicks one, gets its card on the Pump page, sets a desired rpm and sees
// it saved, recorded as set by the dashboard, and reached by the simulated pump.
// Screenshots go to test/artifacts/ (git-ignored): dashboard.png (the pump page; the README shows
// a copy in docs/images/), dashboard-fleet.png, dashboard-dark.png.
//
// Needs /usr/bin/chromium (apt-get install chromium; TWINWIRE_CHROMIUM names another binary);
// skipped, saying so, where it is missing.
"use strict";

const assert = require("node:assert/strict");
const fs = require("fs");
const os = require("os");
const path = require("path");
const h = require("../integration/harness");

const CHROMIUM = process.env.TWINWIRE_CHROMIUM || "/usr/bin/chromium";
const ARTIFACTS = path.join(h.repoRoot, "test", "artifacts");
const EXAMPLE = "Plant dashboard.json";
/** Deadline of a condition in the page: generous, for a loaded 2-core machine. */
const LONG = 30000;
/** The part of the page the widgets fill, for the screenshots (the README shows dashboard.png). */
const CLIP = { x: 0, y: 0, width: 1280, height: 460 };

describe("Dashboard 2.0 widgets in Chromium (Plant dashboard example)", function () {
  this.timeout(180000);
  let chromium;
  let browser;
  let launching;
  let page;
  let nr;
  let flows;
  const problems = [];

  before(async function () {
    this.timeout(240000);
    if (!fs.existsSync(CHROMIUM)) {
      console.log(`      skipped: ${CHROMIUM} is not installed (apt-get install chromium); the browser tests need it`);
      return this.skip();
    }
    if (!h.isBuilt() || !fs.existsSync(path.join(h.repoRoot, "resources", "ui-twin-card.umd.js"))) {
      console.log("      skipped: the package is not built (npm run build)");
      return this.skip();
    }
    ({ chromium } = require("playwright-core"));
    fs.mkdirSync(ARTIFACTS, { recursive: true });

    // Chromium starts while Node-RED does (a failed launch is thrown where it is awaited).
    launching = chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    launching.catch(() => undefined);
    // Only this example: its tab as `npm start` deploys it.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "twinwire-dashboard-example-"));
    fs.copyFileSync(path.join(h.repoRoot, "examples", EXAMPLE), path.join(dir, EXAMPLE));
    flows = h.examplesAsFlows({ examplesDir: dir });
    fs.rmSync(dir, { recursive: true, force: true });
    nr = await h.startNodeRed({ flows });
    assert.doesNotMatch(nr.logs(), /Waiting for missing types/);

    browser = await launching;
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.setDefaultTimeout(LONG);
    page.setDefaultNavigationTimeout(LONG);
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  });

  afterEach(async function () {
    if (this.currentTest && this.currentTest.state === "failed" && page) {
      await page.screenshot({ path: path.join(ARTIFACTS, `failed-dashboard-${this.currentTest.title.replace(/\W+/g, "-").slice(0, 50)}.png`) }).catch(() => {});
    }
    h.printLogsIfFailed(this.currentTest, nr);
  });

  after(async function () {
    // A Chromium launched for a before hook that failed later is closed too.
    if (!browser && launching) browser = await launching.catch(() => null);
    if (browser) await browser.close();
    await h.stopAll();
  });

  const twin = async (id) => (await h.request(nr.url, { path: `/twins/plant/${id}` })).body;

  it("/dashboard shows the fleet of simulated pumps, live, with their values in units", async function () {
    await page.goto(`${nr.url}/dashboard`);
    const rows = page.locator(".tw-fleet tbody tr[data-twin]");
    await page.waitForFunction(() => document.querySelectorAll(".tw-fleet tbody tr[data-twin]").length === 5, null, { timeout: LONG });
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.twin)), ["pump-01", "pump-02", "pump-03", "pump-04", "pump-05"]);
    assert.match(await rows.first().locator(".tw-values").innerText(), /temperature\s+-?[\d.]+ °C/);
    assert.equal(await page.locator(".tw-fleet .tw-dot.tw-online").count(), 5);

    // Live: the values shown move on as the simulator reports (no reload).
    const before = await rows.first().locator(".tw-values").innerText();
    await page.waitForFunction((text) => document.querySelector(".tw-fleet tbody tr[data-twin] .tw-values").innerText !== text, before, { timeout: LONG });

    // A filter the operator picks: offline pumps, of which there are none.
    await page.selectOption(".tw-fleet select[data-filter=online]", "false");
    await page.waitForFunction(() => document.querySelectorAll(".tw-fleet tbody tr[data-twin]").length === 0, null, { timeout: LONG });
    await page.selectOption(".tw-fleet select[data-filter=online]", "");
    await page.waitForFunction(() => document.querySelectorAll(".tw-fleet tbody tr[data-twin]").length === 5, null, { timeout: LONG });

    // Stages: every pump goes to "operating" at deploy; one sent to maintenance is the only one
    // the stage filter "maintenance" keeps, and it leaves the filter "operating" live.
    await page.waitForFunction(() => [...document.querySelectorAll(".tw-fleet tbody tr[data-twin] td:nth-child(4)")].every((td) => td.innerText === "operating"), null, { timeout: LONG });
    await page.selectOption(".tw-fleet select[data-filter=stage]", "operating");
    const maintenance = flows.find((n) => n.type === "inject" && n.name === "pump-03 to maintenance");
    assert.equal((await h.request(nr.url, { method: "POST", path: `/inject/${maintenance.id}` })).status, 200);
    await page.waitForFunction(() => [...document.querySelectorAll(".tw-fleet tbody tr[data-twin]")].map((tr) => tr.dataset.twin).join() === "pump-01,pump-02,pump-04,pump-05", null, { timeout: LONG });
    await page.selectOption(".tw-fleet select[data-filter=stage]", "maintenance");
    await page.waitForFunction(() => [...document.querySelectorAll(".tw-fleet tbody tr[data-twin]")].map((tr) => tr.dataset.twin).join() === "pump-03", null, { timeout: LONG });
    await page.selectOption(".tw-fleet select[data-filter=stage]", "");
    await page.waitForFunction(() => document.querySelectorAll(".tw-fleet tbody tr[data-twin]").length === 5, null, { timeout: LONG });
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-fleet.png"), clip: CLIP });
    assert.deepEqual(problems, []);
  });

  it("a click on a pump opens its card on the Pump page: values, sparklines, predictions", async function () {
    await page.locator('.tw-fleet tbody tr[data-twin="pump-02"]').click();
    await page.waitForURL(/\/dashboard\/pump$/, { timeout: LONG });
    const card = page.locator('.tw-card[data-twin="pump-02"]');
    await card.waitFor({ timeout: LONG });
    assert.match(await card.locator('[data-property="temperature"] [data-role=value]').innerText(), /^-?[\d.]+ °C$/);
    assert.equal(await card.locator(".tw-badge.tw-stage").innerText(), "operating");
    await card.locator('[data-property="vibration"] svg.tw-spark polyline').waitFor({ timeout: LONG });
    await card.locator('[data-property="vibration"] [data-role=prediction]').waitFor({ timeout: LONG });
    assert.match(await card.locator('[data-property="vibration"] [data-role=prediction]').innerText(), /forecast [\d.]+ mm\/s in 10 min \([\d.-]+–[\d.]+ mm\/s\)/);
    assert.deepEqual(problems, []);
  });

  it("a desired rpm set on the card is saved as set by the dashboard and reaches the simulated pump", async function () {
    const card = page.locator('.tw-card[data-twin="pump-02"]');
    const rpm = card.locator('[data-property="rpm"]');

    // Refused by the model (maximum 3600): the registry's words under the field, nothing written.
    await rpm.locator("input").fill("5000");
    await rpm.locator("button").click();
    await page.waitForFunction(() => /breaks the rule/.test(document.querySelector('.tw-card [data-property="rpm"] [data-role=result]')?.innerText || ""), null, { timeout: LONG });
    assert.equal((await twin("pump-02")).desired.rpm, undefined);

    await rpm.locator("input").fill("2400");
    await rpm.locator("button").click();
    await page.waitForFunction(() => /^saved: desired rpm 2400$/.test(document.querySelector('.tw-card [data-property="rpm"] [data-role=result]')?.innerText || ""), null, { timeout: LONG });
    const doc = await twin("pump-02");
    assert.equal(doc.desired.rpm, 2400);
    assert.equal(doc.meta.desired.rpm.by, "dashboard");

    // twin-mirror takes it to the simulated pump, which reports it back within the tolerance (10).
    await h.waitFor(async () => Math.abs((await twin("pump-02")).reported.rpm - 2400) <= 10, LONG, 200);
    await page.waitForFunction(() => {
      const text = document.querySelector('.tw-card [data-property="rpm"] [data-role=value]')?.innerText || "";
      return Math.abs(Number(text) - 2400) <= 10 && !/pending/.test(document.querySelector('.tw-card [data-property="rpm"] [data-role=desired]')?.innerText || "pending");
    }, null, { timeout: LONG });
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard.png"), clip: CLIP });
    assert.deepEqual(problems, []);
  });

  it("after a deploy the open page follows the new card; in a dark theme the widgets take its colours", async function () {
    const flows = (await h.request(nr.url, { path: "/flows" })).body;
    const theme = flows.find((n) => n.type === "ui-theme");
    theme.colors = { surface: "#1e1e1e", primary: "#4fc3f7", bgPage: "#121212", groupBg: "#1e1e1e", groupOutline: "#444444" };
    await h.deployFlows(nr.url, flows);
    // The open page follows the redeployed card (back at its configured pump-01) without a reload.
    const card = page.locator('.tw-card[data-twin="pump-01"]');
    await card.waitFor({ timeout: LONG });
    await page.reload();
    await card.waitFor({ timeout: LONG });
    await card.locator('[data-property="temperature"] [data-role=value]').waitFor({ timeout: LONG });
    const [text, surface] = await card.evaluate((el) => [getComputedStyle(el).color, getComputedStyle(el.querySelector(".tw-prop")).backgroundColor]);
    const luminance = (css) => {
      const [r, g, b] = css.match(/[\d.]+/g).map(Number);
      return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    };
    assert.ok(luminance(text) > 0.7, `text ${text} is light`);
    assert.ok(luminance(surface) < 0.2, `surface ${surface} is dark`);
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-dark.png"), clip: CLIP });
    assert.deepEqual(problems, []);
  });
});
