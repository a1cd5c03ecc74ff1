/**
 * Fast tests of how the libvirt layer explains bad inputs the KVM host reveals: NICs on missing
 * or inactive networks and bridges, unfetchable image URLs, domain names already taken. The
 * same paths run against the real host in bad-inputs.real.test.ts.
 */
import { strict as assert } from "assert";
import { urlPassword } from "../../providers/libvirt/client";
import { domainProvider } from "../../providers/libvirt/domain";
import {
  describeFetchFailure,
  duplicateDomainError,
  HOST_NETWORK_MARKS,
  nicProblems,
  nicProblemsError,
  parseDuplicateDefine,
  parseHostNetworks,
  type HostNetworks,
} from "../../providers/libvirt/preflight";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

describe("libvirt bad inputs: the host's networks and bridges", () => {
  const host: HostNetworks = {
    networks: ["default", "g8os"],
    activeNetworks: ["g8os"],
    interfaces: ["lo", "eth0", "br0", "virbr1"],
    bridges: ["br0", "virbr1"],
  };

  it("parses the hostNetworks script output into its sections", () => {
    const out = [
      HOST_NETWORK_MARKS.all,
      "default",
      "g8os",
      "",
      HOST_NETWORK_MARKS.active,
      "g8os",
      "",
      HOST_NETWORK_MARKS.ifaces,
      "iface lo",
      "iface eth0",
      "bridge br0",
      "bridge virbr1",
      "",
    ].join("\n");
    assert.deepEqual(parseHostNetworks(out), host);
    assert.deepEqual(parseHostNetworks(`${HOST_NETWORK_MARKS.all}\n\n${HOST_NETWORK_MARKS.active}\n`), {
      networks: [],
      activeNetworks: [],
      interfaces: [],
      bridges: [],
    });
  });

  it("accepts NICs on active networks and existing bridges", () => {
    assert.deepEqual(nicProblems([{ network: "g8os" }, { bridge: "br0" }], host, "kvm1"), []);
  });

  it("names the field, the missing name, what exists and the fix", () => {
    const problems = nicProblems(
      [
        { network: "g8os" },
        { network: "nope" },
        { network: "default" },
        { bridge: "br9" },
        { bridge: "eth0" },
      ],
      host,
      "kvm1",
    );
    assert.deepEqual(
      problems.map((p) => p.field),
      ["nics[1].network", "nics[2].network", "nics[3].bridge", "nics[4].bridge"],
    );
    assert.match(
      problems[0].problem,
      /network "nope" does not exist on kvm1 \(networks there: default, g8os\)/,
    );
    assert.match(problems[0].fix, /net-define \+ net-start/);
    assert.match(problems[1].problem, /"default" exists on kvm1 but is not active/);
    assert.match(problems[1].fix, /net-start default/);
    assert.match(problems[2].problem, /bridge "br9" does not exist on kvm1 \(bridges there: br0, virbr1\)/);
    assert.match(problems[3].problem, /"eth0" on kvm1 is a network interface, not a Linux bridge/);
    const none = nicProblems([{ bridge: "br0" }], { ...host, interfaces: [], bridges: [] }, "kvm1");
    assert.match(none[0].problem, /bridges there: none/);
  });

  it("one error for every problem: resource, fields, nothing defined, each fix once", () => {
    const problems = nicProblems([{ network: "a" }, { network: "b" }], host, "kvm1");
    const err = nicProblemsError('LibvirtDomain "vm1"', problems);
    assert.equal(err.name, "InputError");
    assert.equal(err.field, "nics[0].network, nics[1].network");
    assert.match(
      err.message,
      /^LibvirtDomain "vm1": nics\[0\]\.network, nics\[1\]\.network: .*"a" does not exist.*; .*"b" does not exist.*; nothing was defined\. Fix: /,
    );
    assert.equal(err.message.split("net-define + net-start").length, 2, "the same fix is given once");
  });
});

describe("libvirt bad inputs: duplicate domain names", () => {
  it("recognises libvirt's refusal to define a name another UUID holds", () => {
    const msg =
      'LibvirtDomain "x": virsh define failed: exit status 1 on 127.0.0.1: error: Failed to define domain from /tmp/tmp.x | ' +
      "error: operation failed: domain 'build-1-node' already exists with uuid 06F1F89A-96DC-45D3-94E9-52CFA8788C8E";
    assert.deepEqual(parseDuplicateDefine(msg), {
      name: "build-1-node",
      uuid: "06f1f89a-96dc-45d3-94e9-52cfa8788c8e",
    });
    assert.equal(parseDuplicateDefine("error: XML error: bad memory"), undefined);
  });

  it("the error names resource, name, host, the other UUID, and how to fix it", () => {
    const err = duplicateDomainError('LibvirtDomain "build-1-node"', "build-1-node", "10.0.0.2", "u-1");
    assert.equal(err.field, "name");
    assert.match(
      err.message,
      /^LibvirtDomain "build-1-node": name: a domain named build-1-node already exists on 10\.0\.0\.2 \(uuid u-1\)/,
    );
    assert.match(err.message, /left untouched and nothing was defined/);
    assert.match(
      err.message,
      /Fix: choose another name \(the VM components' domainName, or another envNumber/,
    );
    assert.match(err.message, /undefine --nvram build-1-node/);
  });

  it("check refuses domain names virsh would read as an id or a UUID", async () => {
    const base = {
      host: "10.0.0.2",
      privateKey: KEY,
      memoryMiB: 512,
      vcpus: 1,
      disks: [{ path: "/p/d.qcow2" }],
    };
    for (const name of ["42", "6f1c2a1e-1111-4222-8333-444455556666"]) {
      const r = await domainProvider.check!({}, { ...base, name });
      const f = r.failures!.find((x) => x.property === "name");
      assert.ok(f, name);
      assert.match(f.reason, /must not be all digits or a UUID/);
    }
    const ok = await domainProvider.check!({}, { ...base, name: "build-1-node" });
    assert.deepEqual(ok.failures, []);
  });
});

describe("libvirt bad inputs: image URLs the KVM host cannot fetch", () => {
  it("connection refused", () => {
    const f = describeFetchFailure(
      "curl: (7) Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server\n",
    )!;
    assert.equal(
      f.said,
      "curl exit 7: Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server",
    );
    assert.match(f.fix, /nothing accepted the connection/);
  });

  it("HTTP status from -f", () => {
    const f = describeFetchFailure("curl: (22) The requested URL returned error: 404\n")!;
    assert.match(f.said, /^curl exit 22: .*404 \(HTTP 404\)$/);
    assert.match(f.fix, /nothing is published at that URL/);
    assert.match(
      describeFetchFailure("curl: (22) The requested URL returned error: 403")!.fix,
      /refuses access/,
    );
    assert.match(
      describeFetchFailure("curl: (22) The requested URL returned error: 503")!.fix,
      /server failed/,
    );
  });

  it("file:// paths, DNS, timeouts, TLS", () => {
    assert.match(
      describeFetchFailure("curl: (37) Couldn't open file /nope.img")!.fix,
      /file:\/\/ URL is read on the KVM host/,
    );
    assert.match(describeFetchFailure("curl: (6) Could not resolve host: x.invalid")!.fix, /resolve/);
    assert.match(describeFetchFailure("curl: (28) Operation timed out")!.fix, /downloadTimeoutSeconds/);
    assert.match(describeFetchFailure("curl: (60) SSL certificate problem")!.fix, /certificate/);
    assert.match(describeFetchFailure("curl: (3) URL rejected: Bad hostname")!.fix, /fix the URL/);
  });

  it("not curl's failure (curl missing, pool not writable): no verdict on the URL", () => {
    assert.equal(describeFetchFailure("sh: 1: curl: not found\n"), undefined);
    assert.equal(describeFetchFailure("mkdir: cannot create directory '/x': Permission denied"), undefined);
  });

  it("a password in the URL is found for redaction", () => {
    assert.equal(urlPassword("https://u:s3cr%40t@mirror.example/x.img"), "s3cr%40t");
    assert.equal(urlPassword("https://mirror.example/x.img"), "");
    assert.equal(urlPassword("not a url"), "");
  });
});
