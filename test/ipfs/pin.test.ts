/**
 * IpfsPin through the engine harness (real dynamic-provider host) against a real js-ipfs daemon,
 * and remote pinning against the Pinning Service API and IPFS Cluster stand-ins.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { randomUUID } from "crypto";
import { IpfsClient, remotePin, type RemotePinSpec } from "../../providers/ipfs";
import { Harness, RunResult } from "../harness";
import { IpfsDaemon, startIpfsDaemon } from "../testbed/ipfs";
import {
  ClusterStandIn,
  PinningServiceStandIn,
  startClusterFake,
  startPinningService,
} from "../testbed/ipfs-pinning";

const PROGRAM = path.join(__dirname, "programs", "pins.ts");
const TOKEN = "pin-token-" + randomUUID();

const pinOps = (r: RunResult) =>
  r.steps.filter((s) => /ipfs:Pin$/.test(s.type)).map((s) => `${s.urn.split("::").pop()} ${s.op}`);

describe("ipfs: IpfsPin and remote pinning", function () {
  this.timeout(300_000);
  let ipfs: IpfsDaemon;
  let client: IpfsClient;
  let service: PinningServiceStandIn;
  let cluster: ClusterStandIn;
  let dir: string;

  before(async () => {
    ipfs = await startIpfsDaemon();
    client = new IpfsClient(ipfs.apiUrl, { timeoutMs: 5000 });
    service = await startPinningService({ token: TOKEN, backingApiUrl: ipfs.apiUrl });
    cluster = await startClusterFake({ token: TOKEN, peers: 3 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-ipfs-pin-"));
  });
  after(async () => {
    await service?.stop();
    await cluster?.stop();
    await ipfs?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe("remote pinning clients against the stand-ins", () => {
    it("pinning service: POST -> 202 queued, polled to pinned, content pinned by the service", async () => {
      const { cid } = await client.addBytes("remote a " + randomUUID(), { cidVersion: 1, pin: false });
      const spec: RemotePinSpec = { kind: "pinning-service", endpoint: service.endpoint, timeoutMs: 10_000 };
      const st = await remotePin("test", spec, TOKEN, cid, "a");
      assert.equal(st.status, "pinned");
      assert.deepEqual(service.pins().find((p) => p.requestid === st.requestId)?.status, "pinned");
      const post = service.requests.find((r) => r.method === "POST");
      assert.deepEqual((post?.body as { cid: string }).cid, cid);
      assert.ok(service.requests.every((r) => r.authorized));
      // The stand-in pinned it into its backing node.
      assert.equal((await client.pinLs(cid))?.type, "recursive");
    });

    it("pinning service: status failed -> clear error naming the CID; bad token -> 401 named, token hidden", async () => {
      const plain = await startPinningService({ token: TOKEN });
      try {
        const { cid } = await client.addBytes("remote fail " + randomUUID(), {
          cidVersion: 1,
          onlyHash: true,
        });
        const svc = await startPinningService({ token: TOKEN, failCids: [cid] });
        try {
          const spec: RemotePinSpec = { kind: "pinning-service", endpoint: svc.endpoint, timeoutMs: 10_000 };
          await assert.rejects(remotePin('IpfsPin "x"', spec, TOKEN, cid, "x"), (err: Error) => {
            assert.match(err.message, /status "failed"/);
            assert.ok(err.message.includes(cid));
            assert.match(err.message, /IpfsPin "x"/);
            return true;
          });
        } finally {
          await svc.stop();
        }
        const spec: RemotePinSpec = { kind: "pinning-service", endpoint: plain.endpoint };
        await assert.rejects(remotePin("t", spec, "wrong-token-123", cid, "x"), (err: Error) => {
          assert.match(err.message, /HTTP 401/);
          assert.match(err.message, /access token/);
          assert.ok(!err.message.includes("wrong-token-123"));
          return true;
        });
      } finally {
        await plain.stop();
      }
    });

    it("cluster: replication-min/max sent and respected; too few peers and pin_error fail clearly", async () => {
      const { cid } = await client.addBytes("cluster " + randomUUID(), { cidVersion: 1 });
      const spec: RemotePinSpec = {
        kind: "cluster",
        endpoint: cluster.endpoint,
        replicationMin: 2,
        replicationMax: 2,
      };
      const st = await remotePin("t", spec, TOKEN, cid, "c");
      assert.equal(st.pinnedPeers.length, 2);
      const post = cluster.requests.find((r) => r.method === "POST" && r.path === `/pins/${cid}`);
      assert.equal(post?.query["replication-min"], "2");
      assert.equal(post?.query["replication-max"], "2");
      assert.equal(post?.query.name, "c");
      assert.deepEqual(Object.values(cluster.peerMap(cid) ?? {}), ["pinned", "pinned"]);

      await assert.rejects(
        remotePin("t", { ...spec, replicationMin: 5, replicationMax: 5 }, TOKEN, cid, "c"),
        /not enough peers to allocate/,
      );
      const bad = await startClusterFake({ token: TOKEN, peers: 2, errorPeers: ["12D3KooWStandInPeer2"] });
      try {
        await assert.rejects(
          remotePin("t", { kind: "cluster", endpoint: bad.endpoint, replicationMin: 2 }, TOKEN, cid, "c"),
          (err: Error) => {
            assert.match(err.message, /pin_error/);
            assert.match(err.message, /12D3KooWStandInPeer2/);
            assert.ok(err.message.includes(cid));
            return true;
          },
        );
      } finally {
        await bad.stop();
      }
    });
  });

  describe("IpfsPin through the harness", () => {
    let h: Harness;
    let localCid: string;
    let remoteCid: string;
    before(async () => {
      localCid = (await client.addBytes("harness local " + randomUUID(), { cidVersion: 1, pin: false })).cid;
      remoteCid = (await client.addBytes("harness remote " + randomUUID(), { cidVersion: 1, pin: false }))
        .cid;
      h = new Harness({
        program: PROGRAM,
        stack: "build-1",
        stateFile: path.join(dir, "pins.json"),
        config: {
          "g8os:ipfsApiUrl": ipfs.apiUrl,
          "g8os:remoteToken": { secret: TOKEN },
          "g8os:pins": JSON.stringify([
            { name: "local", cid: localCid },
            {
              name: "replicated",
              cid: remoteCid,
              remote: { kind: "cluster", endpoint: cluster.endpoint, replicationMin: 1, replicationMax: 3 },
            },
          ]),
        },
      });
    });
    after(async () => h?.close());

    it("up pins locally and on the cluster (3 peers); the token is not in state in plaintext", async () => {
      const r = await h.upOk();
      assert.deepEqual(pinOps(r).sort(), ["local create", "replicated create"]);
      assert.equal((await client.pinLs(localCid))?.type, "recursive");
      assert.equal((await client.pinLs(remoteCid))?.type, "recursive");
      assert.equal(Object.keys(cluster.peerMap(remoteCid) ?? {}).length, 3);
      assert.ok(!h.stateText().includes(TOKEN));
      assert.ok(!r.log.includes(TOKEN));
    });

    it("a second up changes nothing and makes no IPFS call", async () => {
      const trace = path.join(dir, "noop.trace");
      fs.writeFileSync(trace, "");
      const h2 = new Harness({
        program: PROGRAM,
        stack: "build-1",
        stateFile: h.stateFile,
        config: (h as unknown as { config: Record<string, string> }).config,
        env: { G8OS_TRACE_FILE: trace },
      });
      try {
        const r = await h2.upOk();
        assert.deepEqual(pinOps(r).sort(), ["local same", "replicated same"]);
      } finally {
        await h2.close();
      }
      const events = fs.readFileSync(trace, "utf8").trim();
      assert.equal(events, "", `no remote call expected, got:\n${events}`);
    });

    it("a pin removed outside: refresh drops it, up pins it again", async () => {
      await client.pinRm(localCid);
      const r = await h.refreshOk();
      assert.deepEqual(pinOps(r).sort(), ["local refresh-delete", "replicated same"]);
      const u = await h.upOk();
      assert.deepEqual(pinOps(u).sort(), ["local create", "replicated same"]);
      assert.equal((await client.pinLs(localCid))?.type, "recursive");
    });

    it("destroy unpins locally and on the cluster", async () => {
      await h.destroyOk();
      assert.equal(await client.pinLs(localCid), undefined);
      assert.equal(await client.pinLs(remoteCid), undefined);
      assert.equal(cluster.peerMap(remoteCid), undefined);
    });
  });
});
