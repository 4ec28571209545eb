"use strict";
// Thing Models that reach one base along many tm:extends paths (a lattice: each level extends the
// next several times over) are composed once per model reached, not once per path, and each
// missing link is named once: a small file must not cost time or memory exponential in its depth.
const assert = require("node:assert/strict");
const { parseModels, missingLinks } = require("../../nodes/lib/core/models");

const TM = "https://www.w3.org/2022/wot/td/v1.1";
const MISSING = "https://example.com/missing.tm.jsonld";

/** l0 extends l1 `fan` times, l1 extends l2 `fan` times, ...; the last level extends a base that is not there. */
function lattice(levels, fan) {
  const input = {};
  for (let k = 0; k < levels; k++) {
    const href = k + 1 < levels ? `./l${k + 1}.tm.jsonld` : MISSING;
    input[`l${k}`] = { "@context": TM, "@type": "tm:ThingModel", title: `l${k}`, links: Array.from({ length: fan }, () => ({ rel: "tm:extends", href })), properties: { [`p${k}`]: { type: "number" } } };
  }
  return input;
}

describe("core/models: Thing Models reaching one base along many paths", function () {
  it("names the missing base once, however many paths lead to it (3^9 on main), and keeps every level's property", function () {
    const l0 = parseModels(lattice(9, 3)).get("l0");
    assert.deepEqual([...l0.properties.keys()].sort(), Array.from({ length: 9 }, (_, k) => `p${k}`).sort());
    assert.deepEqual(l0.unresolved, [{ link: "tm:extends", href: MISSING }]);
    assert.deepEqual(missingLinks(l0).map((m) => m.href), [MISSING]);
  });

  it("still refuses a chain deeper than 16 links reached by a shorter path first", function () {
    // l0 -> l1 -> ... -> l17 is too deep; l0 also reaches l2 directly, so l2 is composed first at a shallower depth.
    const input = lattice(18, 1);
    input.l0.links.unshift({ rel: "tm:extends", href: "./l2.tm.jsonld" });
    assert.throws(() => parseModels(input), /nest too deeply/);
  });
});

describe("core/models: Thing Models whose submodels multiply", function () {
  /** Each level has `fan` instances of the next. */
  function submodels(levels, fan) {
    const input = {};
    for (let k = 0; k < levels; k++) {
      const links = k + 1 < levels ? Array.from({ length: fan }, (_, j) => ({ rel: "tm:submodel", href: `./l${k + 1}.tm.jsonld`, instanceName: `i${j}` })) : [];
      input[`l${k}`] = { "@context": TM, "@type": "tm:ThingModel", title: `l${k}`, links, properties: { [`p${k}`]: { type: "number" } } };
    }
    return input;
  }

  it("refuses a model whose tm:submodel instances compose more than 10,000 properties (main: 87,381 from nine levels of four)", function () {
    assert.throws(() => parseModels(submodels(9, 4)), /compose more than 10000 properties/);
  });

  it("keeps a model of nested submodels that stays within that (1,365 properties from six levels of four)", function () {
    assert.equal(parseModels(submodels(6, 4)).get("l0").properties.size, 1365);
  });
});
