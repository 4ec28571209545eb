// What `npm start` deploys on its first run: a Welcome tab, then every example, Twin basics first,
// the others switched off (disabled tabs) so that their messages do not fill the Debug sidebar
// while the user reads another tab. Each example is also offered, running, under
// Import > Examples; only `npm start` deploys them all at once.
"use strict";

const { examplesAsFlows, newId } = require("./nodered-runtime");

/** The examples in the order a new user meets them, with what each shows. */
const EXAMPLES = [
  ["Twin basics", "create, update, read, list and delete a twin with inject buttons; runs on its own"],
  ["Home sensors", "room sensors feed their twins through twin-sensor; twin-watch sees readings and a sensor going offline"],
  ["Thermostat desired state", "a setpoint goes to a thermostat over MQTT through twin-mirror, tracked until applied"],
  ["MQTT device link", "devices talk to their twins over MQTT through twin-link, with no wiring (try examples/device-client.js)"],
  ["Simulated pumps", "twin-simulator: a week of pump wear in a minute, and an rpm command that comes back"],
  ["Fleet overview", "twin-query: fleet figures, the hottest pump, a pump's state an hour ago"],
  ["Pump predictive maintenance", "twin-predict: forecasts, anomalies, drift and the time left to a limit"],
  ["Asset lifecycle and maintenance", "twin-lifecycle: a pump from commissioning through operation to maintenance and back"],
  ["Home Assistant", "twin-homeassistant: every twin appears in Home Assistant, and a setpoint set there reaches the thermostat"],
  ["Plant dashboard", "Dashboard 2.0 for operators: the pump fleet and one pump's card at /dashboard, where a desired rpm can be set"],
];

const FIRST = EXAMPLES[0][0];

/**
 * Node-RED places a node by its centre and sizes a comment by its text in a proportional font, so
 * left edges cannot be lined up from here: the lines share one centre instead.
 */
const CENTRE_X = 480;

function welcomeTab() {
  const z = newId();
  const nodes = [
    {
      id: z,
      type: "tab",
      label: "Welcome",
      disabled: false,
      info:
        "Twinwire: digital twins for Node-RED.\n\n" +
        `Start with the tab **${FIRST}**. The other example tabs are switched off so that only the tab you explore sends messages: ` +
        "right-click a tab and choose **Enable flow**, then **Deploy**.\n\n" +
        "In the **Debug** sidebar, the filter at its top (*all nodes*) set to **current flow** shows only the messages of the tab you are on.\n\n" +
        "The **Twins** sidebar tab lists every twin of every registry, updated live; click a twin for its detail. " +
        "Open it with **Ctrl+G T**, or from the sidebar's list of tabs when it does not fit beside the others.",
    },
  ];
  const lines = [
    "Welcome to Twinwire: digital twins for Node-RED (select this comment: the Info sidebar says more)",
    `1. Start with the next tab, ${FIRST}: click its inject buttons from top to bottom and watch the Debug sidebar.`,
    "2. The other example tabs are switched off, so they stay quiet: right-click a tab, Enable flow, then Deploy.",
    '3. Debug sidebar: set its filter ("all nodes") to "current flow" to see only the tab you are on.',
    "4. Twins sidebar tab: every twin, live. Ctrl+G T opens it (or the sidebar's list of tabs).",
    "The examples, one tab each:",
    ...EXAMPLES.map(([label, what]) => `${label}: ${what}`),
  ];
  lines.forEach((text, i) => {
    const node = { id: newId(), type: "comment", z, name: text, info: "", x: CENTRE_X, y: 40 + i * 40 };
    if (i === 0) node.info = nodes[0].info;
    nodes.push(node);
  });
  return nodes;
}

/**
 * The flows of a first `npm start`: the Welcome tab, then the examples in EXAMPLES order (any
 * other example after them), every one but the first disabled.
 */
function firstRunFlows() {
  const examples = examplesAsFlows({ order: EXAMPLES.map(([label]) => label) });
  for (const n of examples) {
    if (n.type === "tab" && n.label !== FIRST) n.disabled = true;
  }
  return examples.length ? [...welcomeTab(), ...examples] : [];
}

module.exports = { EXAMPLES, firstRunFlows, welcomeTab };
