import { strict as assert } from "assert";
import {
  PlacementError,
  placeApps,
  type PlacementApp,
  type PlacementNode,
} from "../../components/grid/placement";
import { gridPlacementProvider } from "../../components/grid/placement-resource";
import { UNKNOWN } from "../../providers/shared/dynamic";

const nodes: PlacementNode[] = [
  { name: "big", memoryMb: 8192, cpu: 8, labels: ["ssd"] },
  { name: "small", memoryMb: 1024, cpu: 1 },
  { name: "mid", memoryMb: 4096, cpu: 4, labels: ["ssd", "gpu"] },
];
const app = (
  name: string,
  memoryMb: number,
  cpu: number,
  more: Partial<PlacementApp> = {},
): PlacementApp => ({
  name,
  memoryMb,
  cpu,
  ...more,
});
const where = (r: ReturnType<typeof placeApps>) =>
  Object.fromEntries(Object.entries(r.assignments).map(([a, x]) => [a, x.node]));

describe("grid placement (scheduler)", () => {
  it("places each app on a fitting node and counts what is already placed", () => {
    const apps = [
      app("a", 6000, 4),
      app("b", 3000, 2),
      app("c", 2000, 2),
      app("d", 1000, 1),
      app("e", 1000, 1),
    ];
    const r = placeApps(nodes, apps);
    // a: big (the most free); b: mid (big has 2192 left); c: big; d: mid (1096 > small's 1024); e: small.
    assert.deepEqual(where(r), { a: "big", b: "mid", c: "big", d: "mid", e: "small" });
    assert.deepEqual(r.free, {
      big: { memoryMb: 192, cpu: 2 },
      mid: { memoryMb: 96, cpu: 1 },
      small: { memoryMb: 24, cpu: 0 },
    });
    assert.match(r.assignments.a.reason, /most free: 8192 MiB \/ 8 CPU/);
  });

  it("an app that fits nowhere fails with one message naming the app, its needs and each node's free capacity", () => {
    assert.throws(
      () => placeApps(nodes, [app("a", 6000, 4), app("huge", 5000, 1, { labels: ["ssd"] })]),
      (e: PlacementError) => {
        assert.equal(e.problems.length, 1);
        const m = e.problems[0];
        assert.match(m, /^app huge fits on no node: it needs 5000 MiB, 1 CPU, labels ssd;/);
        assert.match(m, /big: 2192 MiB \/ 4 CPU free, 2192 MiB free/);
        assert.match(m, /mid: 4096 MiB \/ 4 CPU free, 4096 MiB free/);
        assert.match(m, /small: 1024 MiB \/ 1 CPU free, no label ssd/);
        assert.match(m, /Fix: /);
        return true;
      },
    );
  });

  it("is deterministic: the same apps in any order give the same placement", () => {
    const apps = [app("web", 512, 1), app("db", 2048, 2), app("cache", 256, 1), app("q", 1024, 1)];
    const one = placeApps(nodes, apps);
    const two = placeApps([...nodes].reverse(), [...apps].reverse());
    assert.deepEqual(two, one);
  });

  it("adding one app moves nothing (previous placement kept)", () => {
    const apps = [app("m", 3000, 2), app("n", 3000, 2), app("o", 900, 1)];
    const before = where(placeApps(nodes, apps));
    // "a" sorts first: placed from scratch it would take room on big and push n to mid.
    const fresh = where(placeApps(nodes, [app("a", 3000, 1), ...apps]));
    assert.ok(
      Object.keys(before).some((k) => fresh[k] !== before[k]),
      "the added app must move one without the previous placement",
    );
    const after = where(placeApps(nodes, [app("a", 3000, 1), ...apps], before));
    for (const k of Object.keys(before)) assert.equal(after[k], before[k], k);
    assert.ok(after.a);
  });

  it("a pin wins, and a pin that does not fit says so", () => {
    const r = placeApps(nodes, [app("p", 512, 1, { node: "small" }), app("q", 512, 1)]);
    assert.equal(r.assignments.p.node, "small");
    assert.match(r.assignments.p.reason, /pinned/);
    assert.throws(
      () => placeApps(nodes, [app("p", 2048, 1, { node: "small" })]),
      /app p is pinned to node small but does not fit there: it needs 2048 MiB, 1 CPU; node small: 1024 MiB \/ 1 CPU free, 1024 MiB free\. Fix:/,
    );
  });

  it("anti-affinity, declared on either side, keeps apps apart", () => {
    const r = placeApps(nodes, [
      app("r1", 100, 0),
      app("r2", 100, 0, { antiAffinity: ["r1"] }),
      app("r3", 100, 0),
    ]);
    assert.notEqual(r.assignments.r1.node, r.assignments.r2.node);
    const s = placeApps(nodes, [app("r1", 100, 0, { antiAffinity: ["r2"] }), app("r2", 100, 0)]);
    assert.notEqual(s.assignments.r1.node, s.assignments.r2.node);
    assert.throws(
      () => placeApps([nodes[1]], [app("x", 1, 0), app("y", 1, 0, { antiAffinity: ["x"] })]),
      /app y fits on no node: .*not with x; small: 1023 MiB \/ 1 CPU free, runs x \(antiAffinity\)/,
    );
  });

  it("anti-affinity: the conflict named is the app placed first on that node", () => {
    // x and y are placed (name order) before z; z avoids y, x avoids z: x is named, placed first.
    assert.throws(
      () =>
        placeApps(
          [nodes[1]],
          [app("x", 1, 0, { antiAffinity: ["z"] }), app("y", 1, 0), app("z", 1, 0, { antiAffinity: ["y"] })],
        ),
      /app z fits on no node: .*small: 1022 MiB \/ 1 CPU free, runs x \(antiAffinity\)/,
    );
  });

  it("anti-affinity is looked up per app, not by scanning every placed app per node (grid scale)", () => {
    // Work measured as reads of `antiAffinity` (no timing): a scan of the placed apps for every
    // (app, node) pair reads it apps^2 x nodes / 2 times (about 400000 here), a lookup a few per app.
    let reads = 0;
    const many: PlacementApp[] = Array.from({ length: 400 }, (_, i) => {
      const a = app(`a${String(i).padStart(3, "0")}`, 1, 0);
      const avoid = i % 2 ? [`a${String(i - 1).padStart(3, "0")}`] : [];
      Object.defineProperty(a, "antiAffinity", {
        enumerable: true,
        get: () => (reads++, avoid),
      });
      return a;
    });
    const grid = Array.from({ length: 5 }, (_, i) => ({ name: `n${i}`, memoryMb: 1000, cpu: 1 }));
    const r = placeApps(grid, many);
    assert.equal(Object.keys(r.assignments).length, 400);
    for (let i = 1; i < 400; i += 2)
      assert.notEqual(r.assignments[many[i].name].node, r.assignments[many[i - 1].name].node);
    assert.ok(reads <= 10 * many.length, `antiAffinity read ${reads} times for ${many.length} apps`);
  });

  it("labels: only nodes with every label", () => {
    const r = placeApps(nodes, [
      app("g", 10, 0, { labels: ["gpu", "ssd"] }),
      app("s", 10, 0, { labels: ["ssd"] }),
    ]);
    assert.equal(r.assignments.g.node, "mid");
    assert.equal(r.assignments.s.node, "big");
  });

  it("failover: an opted-in app leaves an unreachable node, the others stay", () => {
    const prev = { f: "big", k: "big" };
    const down = nodes.map((n) => (n.name === "big" ? { ...n, reachable: false } : n));
    const r = placeApps(down, [app("f", 100, 1, { failover: true }), app("k", 100, 1)], prev);
    assert.equal(r.assignments.k.node, "big");
    assert.notEqual(r.assignments.f.node, "big");
  });

  it("unknown capacity counts as no limit", () => {
    const r = placeApps([{ name: "n" }], [app("a", 1 << 20, 64)]);
    assert.equal(r.assignments.a.node, "n");
    assert.match(r.assignments.a.reason, /\? MiB/);
  });
});

describe("GridPlacement check (preview)", () => {
  const node = (name: string, more: object = {}) => ({ name, labels: [], ...more });
  it("uses the file's caps while the node outputs are unknown, then what the node reports", async () => {
    const apps = [app("a", 3000, 1)];
    const unknown = await gridPlacementProvider.check!(
      {},
      {
        nodes: [node("n1", { memoryMb: 2048, reportedMemoryBytes: UNKNOWN, reportedCpu: UNKNOWN })],
        apps,
      },
    );
    assert.equal(unknown.failures?.length, 1);
    assert.equal(unknown.failures![0].property, "apps");
    assert.match(unknown.failures![0].reason, /app a fits on no node: .* n1: 2048 MiB \/ \? CPU free/);
    const known = await gridPlacementProvider.check!(
      {},
      { nodes: [node("n1", { reportedMemoryBytes: 4096 * 1024 * 1024, reportedCpu: 2 })], apps },
    );
    assert.deepEqual(known.failures ?? [], []);
    assert.match(known.inputs.assignments.a.reason, /capacity from the node/);
  });

  it("keeps the previous placement from its old inputs, and its words (no diff)", async () => {
    const nodes2 = [node("n1", { memoryMb: 4096 }), node("n2", { memoryMb: 4096 })];
    const first = await gridPlacementProvider.check!({}, { nodes: nodes2, apps: [app("m", 1000, 0)] });
    assert.equal(first.inputs.assignments.m.node, "n1");
    const second = await gridPlacementProvider.check!(first.inputs, {
      nodes: nodes2,
      apps: [app("a", 3500, 0), app("m", 1000, 0)],
    });
    assert.equal(second.inputs.assignments.m.node, "n1");
    assert.equal(second.inputs.assignments.m.reason, first.inputs.assignments.m.reason);
    assert.equal(second.inputs.assignments.a.node, "n2");
    const same = await gridPlacementProvider.diff!("placement", second.inputs, second.inputs);
    assert.equal(same.changes, false);
  });
});
