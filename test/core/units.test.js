"use strict";
const assert = require("assert");
const { canonicalUnit, convertUnit, canConvert, unitDimension, checkUnit } = require("../../nodes/lib/core/units");

/** Asserts fn throws a TwinError with this code and (a superset of) these params. */
function throwsTwin(fn, code, params = {}) {
  assert.throws(fn, (err) => {
    assert.strictEqual(err.name, "TwinError", `expected TwinError, got ${err && err.stack}`);
    assert.strictEqual(err.code, code, `expected ${code}, got ${err.message}`);
    for (const [key, value] of Object.entries(params)) assert.strictEqual(err.params[key], value, `param ${key}`);
    return true;
  });
}

function close(actual, expected, rel = 1e-9, message = "") {
  const tol = rel * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${message} expected ${expected}, got ${actual}`);
}

describe("core/units", function () {
  describe("canonicalUnit", function () {
    it("maps UCUM codes and common aliases to UCUM codes", function () {
      const cases = {
        Cel: ["Cel", "degC", "°C", "℃", "C", "celsius", "Celsius", "degree Celsius", "degreeCelsius", " Cel "],
        "[degF]": ["[degF]", "degF", "°F", "F", "fahrenheit", "Fahrenheit", "degreeFahrenheit"],
        K: ["K", "kelvin", "Kelvin"],
        Pa: ["Pa", "pascal"],
        hPa: ["hPa", "hectopascal"],
        kPa: ["kPa", "kilopascal"],
        MPa: ["MPa"],
        bar: ["bar"],
        mbar: ["mbar", "millibar"],
        "[psi]": ["[psi]", "psi", "PSI", "poundPerSquareInch"],
        mW: ["mW", "milliwatt"],
        W: ["W", "watt"],
        kW: ["kW", "kilowatt"],
        MW: ["MW", "megawatt"],
        "W.h": ["W.h", "Wh", "wattHour"],
        "kW.h": ["kW.h", "kWh", "kwh", "kilowattHour", "kilowatt hour"],
        "MW.h": ["MW.h", "MWh"],
        J: ["J", "joule"],
        kJ: ["kJ"],
        "m/s": ["m/s", "metrePerSecond"],
        "km/h": ["km/h", "kph", "kilometrePerHour"],
        "[mi_i]/h": ["[mi_i]/h", "mph"],
        "%": ["%", "percent"],
        1: ["1", "ratio", ""],
      };
      for (const [code, names] of Object.entries(cases)) {
        for (const name of names) assert.strictEqual(canonicalUnit(name), code, JSON.stringify(name));
      }
    });

    it("is case-sensitive where case carries meaning", function () {
      assert.strictEqual(canonicalUnit("mW"), "mW");
      assert.strictEqual(canonicalUnit("MW"), "MW");
      assert.strictEqual(canonicalUnit("mPa"), undefined, "millipascal is not megapascal");
      assert.strictEqual(canonicalUnit("mwh"), undefined, "mWh or MWh: ambiguous");
      assert.strictEqual(canonicalUnit("k"), undefined);
      assert.strictEqual(canonicalUnit("c"), undefined);
      assert.strictEqual(canonicalUnit("w"), undefined);
    });

    it("returns undefined for unknown units and non-strings", function () {
      for (const name of ["furlong", "planks/s", "100ms", "degX", "xsd:dateTime", "qudt:Angle", "x".repeat(1000), "__proto__", "constructor", "toString"]) {
        assert.strictEqual(canonicalUnit(name), undefined, name);
      }
      assert.strictEqual(canonicalUnit(undefined), undefined);
      assert.strictEqual(canonicalUnit(42), undefined);
    });

    it("names the dimension and checks a unit setting", function () {
      assert.strictEqual(unitDimension("°F"), "temperature");
      assert.strictEqual(unitDimension("psi"), "pressure");
      assert.strictEqual(unitDimension("kWh"), "energy");
      assert.strictEqual(unitDimension("nope"), undefined);
      assert.strictEqual(checkUnit("degC"), "Cel");
      throwsTwin(() => checkUnit("furlong"), "invalid-unit", { unit: "furlong" });
    });
  });

  describe("canonicalUnit: units real models declare", function () {
    // Spellings taken from the W3C WoT plugfest Thing Descriptions and the Azure IoT Plug and Play
    // vendor interfaces (see test/fixtures/models/NOTICE): each must be usable, not just kept.
    const cases = {
      Cel: ["om2:degreeCelsius", "om:degree_Celsius", "om:degreeCelsius", "qudt:degree_centigrade", "degree celsius",
        "Celcius", "Degrees C", "C°", "qudt-unit:DEG_C", "http://qudt.org/vocab/unit/DEG_C",
        "http://www.ontology-of-units-of-measure.org/resource/om-2/degreeCelsius"],
      "%": ["om2:percent", "om:percent", "percentage", "unity:percent"],
      "%RH": ["%RH", "% r.H.", "%rh", "qudt-unit:PERCENT_RH"],
      s: ["s", "second", "seconds", "time:seconds", "om:second-Time", "iot:Seconds", "sec"],
      ms: ["ms", "milliseconds", "millisecond"],
      min: ["min", "minute", "qudt:MIN"],
      ns: ["ns"],
      A: ["A", "ampere", "om:ampere"],
      V: ["V", "volt", "om2:volt"],
      Hz: ["Hz", "hertz", "qudt-unit:HZ"],
      MHz: ["MHz"],
      lx: ["lx", "lux", "Lux"],
      W: ["W", "watt"],
      kW: ["om2:kilowatt"],
      "W.h": ["Wh"],
      hPa: ["om2:hectopascal", "hectopascal"],
      "m/s2": ["om2:metrePerSecond-TimeSquared", "metrePerSecondSquared"],
      "[g]": ["gForce"],
      "rad/s": ["om2:radianPerSecond-Time"],
      "deg/s": ["degreePerSecond", "angle per sec"],
      deg: ["degreeOfArc", "deg"],
      rad: ["radian"],
      uT: ["om2:microtesla"],
      T: ["tesla"],
      m: ["om2:metre", "metres", "meters", "Meters"],
      mm: ["millimetre"],
      cm: ["centimetre"],
      um: ["micrometre"],
      "[in_i]": ["inch"],
      "[ft_i]": ["foot"],
      L: ["litre"],
      m3: ["cubicMetre"],
      "[gal_us]": ["gallon"],
      "[cft_i]": ["cubicFoot"],
      "[cin_i]": ["cubicInch"],
      "mm[Hg]": ["millimetresOfMercury"],
      "[in_i'Hg]": ["inchesOfMercury"],
      "[in_i'H2O]": ["inchesOfWater"],
      KiBy: ["kibibyte"],
      MiBy: ["mebibyte"],
      By: ["byte"],
      Kibit: ["kibibit"],
      "/min": ["revolutionPerMinute", "rpm"],
      "kg/m3": ["kilogramPerCubicMetre"],
      "ug/m3": ["micrograms per cubic metre"],
      "L/s": ["litrePerSecond"],
      "L/h": ["litrePerHour"],
      "mL/min": ["millilitrePerMinute"],
      mA: ["milliampere"],
      Ohm: ["ohm"],
      lm: ["lumen"],
      mg: ["milligram"],
      dB: ["decibel"],
      dBm: ["dBm"],
      var: ["var"],
      "var.h": ["varh"],
      "[ppb]": ["ppb"],
      "km/h": ["kmh"],
      N: ["N"],
    };
    for (const [code, names] of Object.entries(cases)) {
      it(`knows ${code} as ${names.join(", ")}`, function () {
        for (const name of names) assert.strictEqual(canonicalUnit(name), code, JSON.stringify(name));
      });
    }

    it("converts what sensors send into what real models declare", function () {
      assert.strictEqual(convertUnit(21.5, "Cel", "om2:degreeCelsius"), 21.5);
      assert.strictEqual(convertUnit(70, "[degF]", "om2:degreeCelsius"), 21.1111111111111);
      assert.strictEqual(convertUnit(1500, "ms", "time:seconds"), 1.5);
      assert.strictEqual(convertUnit(250, "mA", "ampere"), 0.25);
      assert.strictEqual(convertUnit(3300, "mV", "volt"), 3.3);
      assert.strictEqual(convertUnit(1.2, "kHz", "Hz"), 1200);
      assert.strictEqual(convertUnit(120, "rpm", "Hz"), 2);
      assert.strictEqual(convertUnit(2, "[g]", "m/s2"), 19.6133);
      assert.strictEqual(convertUnit(1, "[in_i]", "mm"), 25.4);
      assert.strictEqual(convertUnit(1, "gallon", "litre"), 3.785411784);
      assert.strictEqual(convertUnit(1, "kibibyte", "byte"), 1024);
      assert.strictEqual(convertUnit(45, "%", "%RH"), 45);
      close(convertUnit(180, "deg", "rad"), Math.PI, 1e-15);
      close(convertUnit(760, "mmHg", "hPa"), 1013.25, 1e-6, "conventional mmHg is 133.322387415 Pa, a hair above a torr");
    });

    it("does not take a unit-like tail of an unknown unit for the unit", function () {
      assert.strictEqual(canonicalUnit("planks/s"), undefined);
      assert.strictEqual(canonicalUnit("/100"), undefined);
      assert.strictEqual(canonicalUnit("xsd:dateTime"), undefined);
    });

    it("names the new dimensions and keeps decibels apart", function () {
      assert.deepStrictEqual(["V", "A", "s", "Hz", "lx", "m", "kg", "L"].map(unitDimension),
        ["voltage", "current", "time", "frequency", "illuminance", "length", "mass", "volume"]);
      throwsTwin(() => convertUnit(1, "dB", "dBm"), "no-conversion", { from: "dB", to: "dBm" });
      for (const unit of ["V", "A", "s", "Hz", "lux"]) assert.ok(checkUnit(unit), `twin-sensor's unit field accepts ${unit}`);
    });
  });

  describe("convertUnit", function () {
    it("temperature: 100 degC = 212 degF = 373.15 K", function () {
      assert.strictEqual(convertUnit(100, "Cel", "[degF]"), 212);
      assert.strictEqual(convertUnit(100, "degC", "K"), 373.15);
      assert.strictEqual(convertUnit(212, "°F", "Cel"), 100);
      assert.strictEqual(convertUnit(373.15, "K", "degF"), 212);
      assert.strictEqual(convertUnit(212, "[degF]", "K"), 373.15);
      assert.strictEqual(convertUnit(373.15, "K", "Cel"), 100);
      assert.strictEqual(convertUnit(-40, "Cel", "[degF]"), -40);
      assert.strictEqual(convertUnit(0, "K", "Cel"), -273.15);
      assert.strictEqual(convertUnit(32, "F", "C"), 0);
    });

    it("pressure: 1 bar = 100 kPa = 14.5038 psi", function () {
      assert.strictEqual(convertUnit(1, "bar", "kPa"), 100);
      assert.strictEqual(convertUnit(1, "bar", "Pa"), 100000);
      assert.strictEqual(convertUnit(1, "bar", "mbar"), 1000);
      assert.strictEqual(convertUnit(1013.25, "hPa", "atm"), 1);
      assert.strictEqual(convertUnit(1, "MPa", "bar"), 10);
      close(convertUnit(1, "bar", "[psi]"), 14.5038, 1e-5);
      close(convertUnit(1, "bar", "psi"), 14.503773773020923, 1e-12);
      close(convertUnit(1, "psi", "Pa"), 6894.757293168361, 1e-12);
    });

    it("power and energy: 1 kWh = 1000 Wh = 3.6e6 J", function () {
      assert.strictEqual(convertUnit(1, "kWh", "Wh"), 1000);
      assert.strictEqual(convertUnit(1, "kW.h", "J"), 3.6e6);
      assert.strictEqual(convertUnit(1000, "Wh", "J"), 3.6e6);
      assert.strictEqual(convertUnit(3.6e6, "J", "kWh"), 1);
      assert.strictEqual(convertUnit(1, "MWh", "kWh"), 1000);
      assert.strictEqual(convertUnit(1, "kJ", "J"), 1000);
      assert.strictEqual(convertUnit(1.5, "kW", "W"), 1500);
      assert.strictEqual(convertUnit(2, "MW", "kW"), 2000);
      assert.strictEqual(convertUnit(2, "mW", "W"), 0.002);
    });

    it("speed: 36 km/h = 10 m/s", function () {
      assert.strictEqual(convertUnit(36, "km/h", "m/s"), 10);
      assert.strictEqual(convertUnit(10, "m/s", "km/h"), 36);
      assert.strictEqual(convertUnit(1, "mph", "m/s"), 0.44704);
      assert.strictEqual(convertUnit(1, "[mi_i]/h", "km/h"), 1.609344);
      assert.strictEqual(convertUnit(1, "kn", "km/h"), 1.852);
    });

    it("ratio: 50% = 0.5", function () {
      assert.strictEqual(convertUnit(50, "%", "1"), 0.5);
      assert.strictEqual(convertUnit(0.5, "ratio", "percent"), 50);
      assert.strictEqual(convertUnit(0.25, "", "%"), 25);
      assert.strictEqual(convertUnit(1, "%", "ppm"), 10000);
    });

    it("returns the value unchanged for the same unit, however it is named", function () {
      assert.strictEqual(convertUnit(21.3, "Cel", "Cel"), 21.3);
      assert.strictEqual(convertUnit(21.3, "degC", "°C"), 21.3);
      assert.strictEqual(convertUnit(0.1 + 0.2, "kWh", "kW.h"), 0.1 + 0.2);
      assert.strictEqual(convertUnit(12, "planks", "planks"), 12, "an unknown unit converts to itself");
    });

    it("round trips within 1e-9 relative", function () {
      const pairs = [
        ["Cel", "[degF]"], ["Cel", "K"], ["[degF]", "K"],
        ["bar", "[psi]"], ["kPa", "[psi]"], ["hPa", "mbar"], ["MPa", "atm"], ["Pa", "bar"],
        ["W", "kW"], ["mW", "MW"], ["GW", "W"],
        ["kW.h", "J"], ["W.h", "MJ"], ["MW.h", "kJ"],
        ["km/h", "m/s"], ["[mi_i]/h", "km/h"], ["[kn_i]", "[mi_i]/h"],
        ["%", "1"], ["[ppm]", "%"],
      ];
      const values = [0, 1, -1, 21.5, -40, 1013.25, 1e-7, 123456.789, 9.87e9, -3.3e-3];
      for (const [a, b] of pairs) {
        for (const v of values) {
          const there = convertUnit(v, a, b);
          const back = convertUnit(there, b, a);
          // Temperature is affine: near 0 of one scale the other scale's offset (32, 273.15) sets the
          // precision, so its tolerance is relative to the larger of the two readings.
          const scale = unitDimension(a) === "temperature" ? Math.max(Math.abs(v), Math.abs(there)) : Math.abs(v);
          const tol = v === 0 && scale === 0 ? 0 : 1e-9 * scale;
          assert.ok(Math.abs(back - v) <= tol, `${v} ${a} -> ${b} -> ${a} gave ${back}`);
        }
      }
    });

    it("refuses conversions across dimensions with no-conversion naming twin and property", function () {
      const ctx = { twinId: "pump-07", property: "temperature" };
      throwsTwin(() => convertUnit(1, "Cel", "bar", ctx), "no-conversion",
        { twinId: "pump-07", property: "temperature", from: "Cel", to: "bar" });
      throwsTwin(() => convertUnit(1, "kW", "kWh", ctx), "no-conversion", { from: "kW", to: "kWh" });
      throwsTwin(() => convertUnit(1, "%", "K", ctx), "no-conversion", { from: "%", to: "K" });
      throwsTwin(() => convertUnit(1, "m/s", "Pa"), "no-conversion", { twinId: "?", property: "?" });
    });

    it("refuses unknown units with no-conversion", function () {
      throwsTwin(() => convertUnit(1, "furlong", "m/s", { twinId: "t", property: "p" }), "no-conversion",
        { twinId: "t", property: "p", from: "furlong", to: "m/s" });
      throwsTwin(() => convertUnit(1, "Cel", "planks"), "no-conversion", { from: "Cel", to: "planks" });
    });

    it("passes non-finite values through a valid conversion", function () {
      assert.ok(Number.isNaN(convertUnit(NaN, "Cel", "K")));
    });
  });

  describe("canConvert", function () {
    it("is true within a dimension and false across or for unknown units", function () {
      assert.strictEqual(canConvert("Cel", "[degF]"), true);
      assert.strictEqual(canConvert("°C", "K"), true);
      assert.strictEqual(canConvert("bar", "psi"), true);
      assert.strictEqual(canConvert("kWh", "J"), true);
      assert.strictEqual(canConvert("%", ""), true);
      assert.strictEqual(canConvert("planks", "planks"), true);
      assert.strictEqual(canConvert("Cel", "bar"), false);
      assert.strictEqual(canConvert("kW", "kWh"), false);
      assert.strictEqual(canConvert("furlong", "m/s"), false);
      assert.strictEqual(canConvert("planks", "Hz"), false);
      assert.strictEqual(canConvert("dBm", "W"), false, "a logarithmic level is not a power");
    });
  });
});
