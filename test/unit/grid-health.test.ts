import { strict as assert } from "assert";
import {
  DEFAULT_THRESHOLDS,
  changedChecks,
  healthChecks,
  type NodeReport,
} from "../../components/grid/health";
import { GridSpecError, parseGridSpec } from "../../components/grid/spec";

const report = (name: string, cpuPercent: number, memoryPercent: number): NodeReport => ({
  name,
  reachable: true,
  cpuPercent,
  memoryPercent,
  cpuCount: 4,
  diskPartitions: 3,
  containers: {},
});

describe("grid health checks", () => {
  it("grades CPU and memory against the thresholds; disk is unknown on v0.9.0; an unreachable node is a redis error", () => {
    const c = healthChecks(
      [report("a", 79.9, 80), report("b", 95, 10), { name: "c", reachable: false, error: "ECONNREFUSED" }],
      DEFAULT_THRESHOLDS,
    );
    assert.equal(c["a.cpu"].state, "ok");
    assert.equal(c["a.memory"].state, "warn");
    assert.equal(c["b.cpu"].state, "error");
    assert.equal(c["b.memory"].state, "ok");
    assert.equal(c["a.disk"].state, "unknown");
    assert.match(c["a.disk"].detail, /info\.disk lists 3 partitions only/);
    assert.equal(c["c.redis"].state, "error");
    assert.match(c["c.redis"].detail, /not reachable: ECONNREFUSED/);
    assert.equal(c["c.cpu"].state, "unknown");
  });

  it("custom thresholds from the grid file", () => {
    const c = healthChecks([report("a", 50, 50)], { ...DEFAULT_THRESHOLDS, cpu: { warn: 40, error: 60 } });
    assert.equal(c["a.cpu"].state, "warn");
    assert.equal(c["a.memory"].state, "ok");
  });

  it("reports only the checks whose state changed (a first ok pass alerts nothing)", () => {
    const first = healthChecks([report("a", 10, 10)], DEFAULT_THRESHOLDS);
    assert.deepEqual(changedChecks(undefined, first), []);
    const busy = healthChecks([report("a", 90, 10)], DEFAULT_THRESHOLDS);
    assert.deepEqual(changedChecks(first, busy), ["a.cpu: ok -> warn: 90% (warn 80%, error 95%)"]);
    assert.deepEqual(changedChecks(busy, busy), []);
  });

  it("the grid file's health and alerts are validated, each problem with field and fix", () => {
    const base = {
      network: "8056c2e21c000001",
      nodes: [{ name: "n1", address: "10.147.17.3" }],
      apps: [],
    };
    const s = parseGridSpec(
      { ...base, health: { cpu: { warn: 70 } }, alerts: { telegramChatId: "-100123" } },
      "g.yaml",
    );
    assert.deepEqual(s.health.cpu, { warn: 70, error: 95 });
    assert.deepEqual(s.health.disk, { warn: 90, error: 95 });
    assert.equal(s.alerts?.telegramChatId, "-100123");
    assert.throws(
      () =>
        parseGridSpec(
          {
            ...base,
            health: { cpu: { warn: 96 }, memroy: {}, disk: { error: 101 } },
            alerts: { telegramChatId: "not a chat" },
          },
          "g.yaml",
        ),
      (e: GridSpecError) => {
        const m = e.message;
        assert.match(m, /g\.yaml: health\.memroy: is not a known field \(did you mean memory\?\)/);
        assert.match(m, /g\.yaml: health\.cpu\.warn: 96 is above error \(95\)\. Fix:/);
        assert.match(m, /g\.yaml: health\.disk\.error: 101 is not a whole number from 0 to 100\. Fix:/);
        assert.match(m, /g\.yaml: alerts\.telegramChatId: "not a chat" is not a Telegram chat id\. Fix:/);
        return true;
      },
    );
  });

  it("failover is refused on a pinned app", () => {
    assert.throws(
      () =>
        parseGridSpec(
          {
            network: "8056c2e21c000001",
            nodes: [{ name: "n1", address: "10.147.17.3" }],
            apps: [
              { name: "a", node: "n1", failover: true, plist: "file:///p", processes: [{ name: "/x" }] },
            ],
          },
          "g.yaml",
        ),
      /apps\[0\]\.failover: cannot move an app pinned with node\. Fix:/,
    );
  });
});
