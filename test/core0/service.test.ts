// The testbed "core0" service: detached supervisor with js-ipfs and two emulated core0 nodes.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Core0Client } from "../../providers/core0/client";
import { core0Service, core0ServiceState } from "../testbed/core0-emulator/service";

describe("testbed service core0", function () {
  this.timeout(180_000);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-core0-svc-"));
  const tb = { stateDir } as Parameters<typeof core0Service.up>[0];
  after(async () => {
    await core0Service.down(tb);
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it("up starts two reachable nodes sharing a 0600 password file; up again is a no-op; down stops them", async () => {
    await core0Service.up(tb);
    const st = core0ServiceState(tb)!;
    assert.equal(st.nodes.length, 2);
    assert.equal(fs.statSync(st.passwordFile).mode & 0o777, 0o600);
    const password = fs.readFileSync(st.passwordFile, "utf8").trim();
    for (const n of st.nodes) {
      const c = new Core0Client({ host: n.address, port: n.port, password });
      try {
        assert.match(await c.ping(), /^PONG /);
      } finally {
        await c.close();
      }
    }
    assert.match((await core0Service.status(tb)).detail!, new RegExp(`${st.nodes[0].port}`));
    await core0Service.up(tb);
    assert.equal(core0ServiceState(tb)!.pid, st.pid, "second up keeps the running supervisor");
    await core0Service.down(tb);
    assert.equal((await core0Service.status(tb)).up, false);
    await core0Service.down(tb); // idempotent
  });
});
