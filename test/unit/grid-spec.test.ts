import * as assert from "assert";
import { GridSpecError, parseGridSpec } from "../../components/grid/spec";

const good = {
  network: "8056c2e21c000001",
  nodes: [{ name: "node1", address: "10.147.17.3" }],
  apps: [
    {
      name: "redis",
      node: "node1",
      plist: "http://gw/ipfs/x/redis/plist",
      processes: [{ name: "/usr/bin/redis-server" }],
    },
  ],
};

describe("grid file", () => {
  it("accepts a good file and fills defaults", () => {
    const s = parseGridSpec(good, "g.yaml");
    assert.strictEqual(s.nodes[0].port, 6379);
    assert.strictEqual(s.apps[0].processes[0].oneshot, false);
  });

  it("lets the grid place an app without node, and checks labels and antiAffinity", () => {
    const s = parseGridSpec(
      {
        ...good,
        nodes: [{ name: "node1", address: "10.147.17.3", labels: ["ssd"] }],
        apps: [{ ...good.apps[0], node: undefined, labels: ["ssd"] }],
      },
      "g.yaml",
    );
    assert.strictEqual(s.apps[0].node, undefined);
    assert.deepEqual(s.apps[0].labels, ["ssd"]);
    assert.deepEqual(s.nodes[0].labels, ["ssd"]);
    assert.throws(
      () =>
        parseGridSpec(
          {
            ...good,
            nodes: [{ name: "node1", address: "10.147.17.3", labels: "ssd" }],
            apps: [{ ...good.apps[0], antiAffinity: ["redis", "nope"], labels: ["Bad Label"] }],
          },
          "g.yaml",
        ),
      (e: GridSpecError) => {
        assert.deepEqual(
          e.problems.map((p) => p.split(":").slice(0, 2).join(":")),
          [
            "g.yaml: nodes[0].labels",
            "g.yaml: apps[0].labels",
            "g.yaml: apps[0].antiAffinity[0]",
            "g.yaml: apps[0].antiAffinity[1]",
          ],
        );
        assert.ok(e.problems.every((p) => / Fix: /.test(p)));
        return true;
      },
    );
  });

  it("app mounts: host dir or plist URL to an absolute container path", () => {
    const s = parseGridSpec(
      { ...good, apps: [{ ...good.apps[0], mounts: { "/var/data": "/data" } }] },
      "g.yaml",
    );
    assert.deepEqual(s.apps[0].mounts, { "/var/data": "/data" });
    assert.throws(
      () => parseGridSpec({ ...good, apps: [{ ...good.apps[0], mounts: { data: "rel" } }] }, "g.yaml"),
      (e: GridSpecError) => {
        assert.equal(e.problems.length, 2);
        assert.match(
          e.problems[0],
          /g\.yaml: apps\[0\]\.mounts\.data: source is not an absolute host path or a plist URL\. Fix:/,
        );
        assert.match(e.problems[1], /target "rel" is not an absolute path\. Fix: e\.g\. \/data/);
        return true;
      },
    );
  });

  it("reports every problem with file, field and fix", () => {
    const bad = {
      network: "xyz",
      nodes: [
        { name: "node1", address: "10.147.17.3" },
        { name: "node1", address: "bad address!" },
      ],
      apps: [
        { name: "redis", node: "nodeX", plist: "ftp://x", processes: [] },
        { name: "redis", node: "node1", plist: "file:///opt/p", processes: [{ args: "not a list" }] },
      ],
    };
    assert.throws(
      () => parseGridSpec(bad, "grid/grid-1.yaml"),
      (e: GridSpecError) => {
        const m = e.message;
        for (const re of [
          /grid\/grid-1\.yaml: network: "xyz" is not a ZeroTier network id\. Fix:/,
          /nodes\[1\]\.name: "node1" is used twice/,
          /nodes\[1\]\.address: "bad address!" is not an address/,
          /apps\[0\]\.node: "nodeX" is not a node of this grid\. Fix: use one of: node1/,
          /apps\[0\]\.plist: "ftp:\/\/x" is not a plist URL/,
          /apps\[0\]\.processes: is missing or empty/,
          /apps\[1\]\.name: "redis" is used twice/,
          /apps\[1\]\.processes\[0\]\.name: is missing/,
          /apps\[1\]\.processes\[0\]\.args: must be a list of strings/,
        ])
          assert.match(m, re);
        assert.strictEqual(e.problems.length, 9);
        return true;
      },
    );
  });
});
