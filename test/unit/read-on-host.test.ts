/**
 * readOnHost (providers/shared/host-connection.ts), what every host resource's refresh uses: a host
 * that cannot be reached keeps its state with a warning, also when the session was lost under the
 * read (a ZeroTier path that broke mid-refresh), while a command that ran and failed stays an error.
 */
import { strict as assert } from "assert";
import { readOnHost, type HostConnection } from "../../providers/shared/host-connection";
import { scriptedSshServer, type ScriptedSshServer } from "./scripted-ssh-server";

describe("readOnHost: refresh of a host that cannot be reached", function () {
  this.timeout(30_000);
  let srv: ScriptedSshServer;
  let conn: HostConnection;
  const KEEP = { kept: true };

  before(async () => {
    const { utils } = require("ssh2");
    const client = utils.generateKeyPairSync("ed25519");
    srv = await scriptedSshServer(client.public, (cmd) =>
      cmd === "lose"
        ? { code: 0, drop: true }
        : cmd === "fail"
          ? { err: "no such file\n", code: 2 }
          : { out: "x", code: 0 },
    );
    conn = {
      addresses: [{ host: "127.0.0.1", port: srv.port }],
      privateKeys: [client.private],
      hostKeySha256: srv.fingerprint,
    };
  });
  after(() => srv?.close());

  it("a session lost under the read, no other address answering: the state is kept", async () => {
    const r = await readOnHost(conn, 'T "t"', KEEP, async (s) => {
      await s.exec("lose", { step: "read" });
      return { kept: false };
    });
    assert.deepEqual(r, KEEP);
  });

  it("nothing answers at all: the state is kept", async () => {
    const r = await readOnHost(
      { ...conn, addresses: [{ host: "127.0.0.1", port: 9 }] },
      'T "t"',
      KEEP,
      async () => ({
        kept: false,
      }),
    );
    assert.deepEqual(r, KEEP);
  });

  it("a command that ran and failed is the read's error", async () => {
    await assert.rejects(
      readOnHost(conn, 'T "t"', KEEP, async (s) => {
        await s.exec("fail", { step: "read the file" });
        return { kept: false };
      }),
      /read the file.*no such file/s,
    );
  });
});
