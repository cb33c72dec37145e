// Where soft labels get their scale (server/engine/cpmi/calibrations.ts): the shipped calibrations
// are the measurements stored under bench/results-calibration/, for the demo model file and the
// presets as they are today; the lookup order; damaged cache files. Real files, no model run.

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CalibrationError, findCalibration, saveCalibration, shippedCalibrations, type StoredCalibration } from "../server/engine/cpmi/calibrations.js";
import { calibrationConfigKey, modelIdentity } from "../server/engine/cpmi/calibrationKey.js";
import { cpmiConfigFrom } from "../server/engine/engineOptions.js";
import { PRESETS, type FlagPreset } from "../server/cli/engineFlags.js";
import { DEMO_MODEL, REPO } from "./helpers.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "steplens-calibration-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function presetSettings(preset: FlagPreset): string {
  const p = PRESETS[preset];
  return calibrationConfigKey(cpmiConfigFrom({ templates: p.templates, negatives: p.negatives, negativesFrom: p.negativesFrom }, DEMO_MODEL));
}

describe("shipped calibrations", () => {
  test("are the stored measurements, for the demo model file as it is and each preset as it is", () => {
    const shipped = shippedCalibrations();
    assert.deepEqual(shipped.map((e) => e.measured).sort(), ["bench/results-calibration/labeling.json", "bench/results-calibration/scoring.json"]);
    const demo = modelIdentity(DEMO_MODEL);
    for (const e of shipped) {
      const stored = JSON.parse(readFileSync(path.join(REPO, e.measured), "utf8")) as StoredCalibration;
      const { preset: _p, measured: _m, ...entry } = e;
      assert.deepEqual({ ...entry, created: stored.created }, stored, `${e.measured} and calibrations.ts agree`);
      assert.deepEqual(e.model, { name: demo.name, bytes: demo.bytes, fingerprint: demo.fingerprint }, "measured on this demo model file");
    }
    // A changed preset or template text changes the key: the shipped numbers must then be measured again.
    const byFile = new Map(shipped.map((e) => [e.measured, e.settings]));
    assert.equal(byFile.get("bench/results-calibration/labeling.json"), presetSettings("labeling"));
    assert.equal(byFile.get("bench/results-calibration/scoring.json"), presetSettings("scoring"));
  });

  test("the two presets have different scales, and each is found for its own settings only", () => {
    const empty = { cacheDir: path.join(tmp, "empty") };
    const demo = modelIdentity(DEMO_MODEL);
    const label = findCalibration(demo, presetSettings("labeling"), empty);
    const score = findCalibration(demo, presetSettings("scoring"), empty);
    assert.equal(label.origin, "shipped");
    assert.equal(score.origin, "shipped");
    assert.notEqual(label.id, score.id);
    assert.notEqual(label.median, score.median);
    const other = findCalibration(demo, presetSettings("labeling").replace("m=1", "m=2"), empty);
    assert.equal(other.origin, "neutral");
    assert.equal(other.id, "neutral");
    assert.match(other.source, /no calibration of arith-demo-15m-f16\.gguf for these reward settings is known; `steplens calibrate` measures one once/);
    // A model server's model is known by name only.
    assert.equal(findCalibration({ name: "arith-demo-15m-f16.gguf" }, presetSettings("scoring"), empty).id, score.id);
    // Another file under the demo model's name is another model.
    const impostor = path.join(tmp, "arith-demo-15m-f16.gguf");
    writeFileSync(impostor, "GGUF not really");
    assert.equal(findCalibration(modelIdentity(impostor), presetSettings("scoring"), empty).origin, "neutral");
  });
});

describe("cached calibrations", () => {
  const cacheDir = path.join(tmp, "cache");
  const demo = modelIdentity(DEMO_MODEL);
  const settings = presetSettings("labeling");
  const entry: StoredCalibration = {
    version: 1,
    model: { name: demo.name, bytes: demo.bytes!, fingerprint: demo.fingerprint! },
    settings,
    median: 0.5,
    mad: 0.25,
    n: 300,
    reference: "300 steps of mine.jsonl",
  };

  test("a measurement of one's own wins over the shipped one, is replaced by the next, and names where it came from", () => {
    const first = saveCalibration(entry, { cacheDir });
    assert.equal(first.replaced, undefined);
    const c = findCalibration(demo, settings, { cacheDir });
    assert.equal(c.origin, "cached");
    assert.equal(c.median, 0.5);
    assert.match(c.source, /measured on 300 steps of mine\.jsonl \(steplens calibrate, /);
    const second = saveCalibration({ ...entry, median: 0.4 }, { cacheDir });
    assert.equal(second.file, first.file);
    assert.equal(second.replaced?.median, 0.5);
    const again = findCalibration(demo, settings, { cacheDir });
    assert.equal(again.median, 0.4);
    assert.notEqual(again.id, c.id, "other numbers, another id: records of the two cannot be mixed");
    assert.equal(findCalibration({ name: demo.name }, settings, { cacheDir }).median, 0.4, "a server's model by name");
  });

  test("a damaged cache file is an error naming the file and what to do", () => {
    const { file } = saveCalibration(entry, { cacheDir });
    for (const [text, why] of [
      ['{"version": 1, "median": ', /not valid JSON/],
      [JSON.stringify({ ...entry, mad: -1 }), /mad: /],
      [JSON.stringify({ ...entry, settings: "templates=other" }), /belongs to another model or other settings/],
    ] as const) {
      writeFileSync(file, text);
      assert.throws(
        () => findCalibration(demo, settings, { cacheDir }),
        (err: unknown) =>
          err instanceof CalibrationError &&
          err.message.startsWith(`the calibration file ${file} is damaged (`) &&
          why.test(err.message) &&
          /Delete it, then measure the calibration again with `steplens calibrate --model MODEL`/.test(err.message),
      );
    }
  });
});
