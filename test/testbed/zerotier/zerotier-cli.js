#!/usr/bin/env node
/**
 * Stand-in for a test host's `zerotier-one` service and its `zerotier-cli` (installed as
 * /usr/local/sbin/zerotier-cli by the testbed's "zerotier" service). Plain CommonJS JavaScript so the
 * host's own Node (>= 18, for fetch) runs it without ts-node.
 *
 * Commands, with zerotier-cli's output formats and exit codes (facts/zerotier.md section 3):
 *   info | status | -j info | info -j     "200 info <addr10> <version> ONLINE|OFFLINE" / status JSON
 *   join <nwid>                           "200 join OK"
 *   leave <nwid>                          "200 leave OK"
 *   listnetworks [-j] | -j listnetworks   text table or JSON array
 *   get <nwid> <field>                    one field of the network JSON (ip/ip4 = first IPv4)
 * A malformed network id exits 2, other non-200 results exit 1. Without the service configured
 * ("not installed / not running") every command fails like the real cli does when it cannot connect.
 *
 * State lives in $ZT_HOME (default /var/lib/zerotier-one, per host through the testbed's bind mounts):
 *   identity.secret / identity.public    generated on first start; node id = first field
 *   g8os-standin.json                    written by the testbed: {controllerUrl, rootNetnsPid | controllerVia,
 *                                        manageInterfaces: true | false | "nic", nicMac?}
 *   networks.d/<nwid>.conf               one JSON per joined network (status, addresses, ...)
 *   agent.pid / agent.log / agent.json   the background agent
 *
 * The background agent (`zerotier-cli _agent`, started on demand by any command while networks are
 * joined) stands for the ZeroTier protocol: once a second it asks the controller stand-in for each
 * network's config (POST <controllerUrl>/_agent/config, see standin.ts) and moves the status
 * REQUESTING_CONFIGURATION -> OK | ACCESS_DENIED | NOT_FOUND. With status OK and an address it brings
 * up a real interface `zt<8 base32>` (the name the Linux tap gets): a veth whose peer is moved to the
 * root namespace (`ip link set <peer> netns <rootNetnsPid>`) and enslaved to the testbed bridge by the
 * controller stand-in (POST /_agent/attach); deauthorisation or leave removes it. The agent
 * exits when no network is joined or after its lifetime (default 2 h) and is restarted on demand;
 * `_agent --service` runs it for good (zerotier-one.service in testbed guests).
 *
 * In a VM (g8os-standin.json `manageInterfaces: "nic"`, see guest.ts) there is no root namespace to
 * plug a veth into: the VM's NIC on the ZeroTier bridge becomes the interface instead, and
 * `controllerVia` routes to the controller through the libvirt network's host address.
 *
 * Invoked as `zerotier-idtool` (a symlink), it is that tool: `generate [secret] [public]` prints
 * identity.secret with no newline (or writes the files), `getpublic <secret>`.
 */
/* global fetch, AbortSignal, URL, __filename */
"use strict";
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const { spawn, execFileSync } = require("child_process");

const VERSION = "1.14.2";
const HOME = process.env.ZT_HOME || "/var/lib/zerotier-one";
const NETS = path.join(HOME, "networks.d");
const CONFIG = path.join(HOME, "g8os-standin.json");
const PID_FILE = path.join(HOME, "agent.pid");
const AGENT_STATE = path.join(HOME, "agent.json");
const LOG_FILE = path.join(HOME, "agent.log");
const POLL_MS = 1000;
const ONLINE_WINDOW_MS = 30000;

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

function writeJsonAtomic(file, value, mode) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n", { mode: mode || 0o644 });
  fs.renameSync(tmp, file);
}

function log(line) {
  try {
    fs.appendFileSync(LOG_FILE, `${new Date().toISOString()} ${line}\n`);
  } catch {
    // Logging is best effort.
  }
}

/** identity.secret text `<addr10>:0:<public 128 hex>:<private 128 hex>` (C25519, as Identity::toString(true)). */
function newIdentitySecret() {
  let addr;
  do addr = crypto.randomBytes(5).toString("hex");
  while (addr.startsWith("ff") || addr.startsWith("00"));
  return `${addr}:0:${crypto.randomBytes(64).toString("hex")}:${crypto.randomBytes(64).toString("hex")}`;
}

function publicOf(secret) {
  return secret.trim().split(":").slice(0, 3).join(":");
}

/** Node identity: generated on first start like zerotier-one (address = 10 hex, never 00.. or ff..). */
function identity() {
  const pub = path.join(HOME, "identity.public");
  const sec = path.join(HOME, "identity.secret");
  if (!fs.existsSync(sec)) {
    const secret = newIdentitySecret();
    fs.writeFileSync(sec, `${secret}\n`, { mode: 0o600 });
    fs.writeFileSync(pub, `${publicOf(secret)}\n`, { mode: 0o644 });
  }
  return fs
    .readFileSync(fs.existsSync(pub) ? pub : sec, "utf8")
    .trim()
    .split(":")[0];
}

/** Linux tap name: "zt" + 8 base32 chars of (nwid ^ nwid >> 24), as LinuxEthernetTap derives it. */
function deviceName(nwid) {
  const B32 = "abcdefghijklmnopqrstuvwxyz234567";
  const n = BigInt("0x" + nwid);
  const n40 = (n ^ (n >> 24n)) & 0xffffffffffn;
  let s = "zt";
  for (let shift = 35n; shift >= 0n; shift -= 5n) s += B32[Number((n40 >> shift) & 31n)];
  return s;
}

/** Ethernet MAC of a node on a network, as MAC::fromAddress computes it. */
function macFor(nodeId, nwid) {
  const n = BigInt("0x" + nwid);
  let first = Number(n & 0xfen) | 0x02;
  if (first === 0x52) first = 0x32;
  let m = (BigInt(first) << 40n) | BigInt("0x" + nodeId);
  m ^= ((n >> 8n) & 0xffn) << 32n;
  m ^= ((n >> 16n) & 0xffn) << 24n;
  m ^= ((n >> 24n) & 0xffn) << 16n;
  m ^= ((n >> 32n) & 0xffn) << 8n;
  m ^= (n >> 40n) & 0xffn;
  return m.toString(16).padStart(12, "0").match(/../g).join(":");
}

/** Root-namespace end of a host's veth: unique per node and network, at most 15 chars. */
function peerName(nodeId, nwid) {
  return (
    "gz" +
    crypto
      .createHash("sha1")
      .update(nodeId + nwid)
      .digest("hex")
      .slice(0, 10)
  );
}

function networkFile(nwid) {
  return path.join(NETS, `${nwid}.conf`);
}

function joinedIds() {
  try {
    return fs
      .readdirSync(NETS)
      .filter((f) => /^[0-9a-f]{16}\.conf$/.test(f))
      .map((f) => f.slice(0, 16))
      .sort();
  } catch {
    return [];
  }
}

function networkJson(nwid, nodeId) {
  const stored = readJson(networkFile(nwid)) || {};
  return {
    allowDNS: false,
    allowDefault: false,
    allowGlobal: false,
    allowManaged: true,
    assignedAddresses: stored.assignedAddresses || [],
    bridge: false,
    broadcastEnabled: true,
    dhcp: false,
    dns: stored.dns || { domain: "", servers: [] },
    id: nwid,
    mac: macFor(nodeId, nwid),
    mtu: stored.mtu || 2800,
    multicastSubscriptions: [],
    name: stored.name || "",
    netconfRevision: stored.netconfRevision || 0,
    nwid,
    portDeviceName: deviceName(nwid),
    portError: 0,
    routes: (stored.routes || []).map((r) => ({ flags: 0, metric: 0, target: r.target, via: r.via || null })),
    status: stored.status || "REQUESTING_CONFIGURATION",
    type: stored.private === false ? "PUBLIC" : "PRIVATE",
  };
}

function isOnline() {
  const st = readJson(AGENT_STATE);
  return !!st && Date.now() - (st.lastContact || 0) < ONLINE_WINDOW_MS;
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

/** Starts the background agent unless one runs (the pid file is the lock). */
function ensureAgent() {
  if (joinedIds().length === 0) return;
  const pid = Number((fs.existsSync(PID_FILE) && fs.readFileSync(PID_FILE, "utf8").trim()) || 0);
  if (pid && pidAlive(pid)) return;
  try {
    fs.unlinkSync(PID_FILE);
  } catch {
    // No stale pid file.
  }
  const child = spawn(process.execPath, [__filename, "_agent"], { detached: true, stdio: "ignore" });
  child.unref();
}

// ---- interface management (inside the host's network namespace) ----

function ip(args, check = true) {
  try {
    return execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
  } catch (err) {
    if (check) throw new Error(`ip ${args.join(" ")}: ${(err.stderr || "").toString().trim()}`);
    return undefined;
  }
}

function linkExists(dev) {
  return ip(["link", "show", "dev", dev], false) !== undefined;
}

/**
 * "nic" mode (guests): the ZeroTier wire is a NIC the VM has on the testbed's ZeroTier bridge. The
 * agent takes the NIC given by `cfg.nicMac`, else the first Ethernet NIC without an IPv4 address,
 * and makes it look like zerotier-one's tap: renamed to the tap name, ZeroTier's MAC for the node.
 */
function claimNic(cfg, nodeId, nwid, dev) {
  const links = JSON.parse(ip(["-j", "link", "show"]) || "[]");
  const addrs = JSON.parse(ip(["-j", "-4", "addr", "show"]) || "[]");
  const withV4 = addrs.filter((l) => (l.addr_info || []).length > 0).map((l) => l.ifname);
  const want = (cfg.nicMac || "").toLowerCase();
  const nic = links
    .filter((l) => l.link_type === "ether" && !/^zt/.test(l.ifname))
    .sort((a, b) => a.ifindex - b.ifindex)
    .find((l) => (want ? l.address === want : !withV4.includes(l.ifname)));
  if (!nic) throw new Error(`no free NIC for the ZeroTier wire${want ? ` (nicMac ${want})` : ""}`);
  ip(["link", "set", "dev", nic.ifname, "down"]);
  ip(["link", "set", "dev", nic.ifname, "name", dev]);
  ip(["link", "set", "dev", dev, "address", macFor(nodeId, nwid)]);
  ip(["link", "set", "dev", dev, "up"]);
  log(`${nwid}: NIC ${nic.ifname} (${nic.address}) is now ${dev}`);
}

async function bringUp(cfg, nodeId, nwid, addresses, routes) {
  const dev = deviceName(nwid);
  if (!linkExists(dev) && cfg.manageInterfaces === "nic") claimNic(cfg, nodeId, nwid, dev);
  if (!linkExists(dev)) {
    const peer = peerName(nodeId, nwid);
    ip(["link", "add", dev, "type", "veth", "peer", "name", peer]);
    try {
      ip(["link", "set", dev, "address", macFor(nodeId, nwid)]);
      // The peer goes to the root namespace (a process there given by the testbed), where the
      // controller stand-in plugs it into the ZeroTier bridge: entering that namespace from here
      // (nsenter -t 1) is not allowed on every machine.
      ip(["link", "set", peer, "netns", String(cfg.rootNetnsPid || 1)]);
      const res = await fetch(`${cfg.controllerUrl.replace(/\/+$/, "")}/_agent/attach`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ peer }),
        signal: AbortSignal.timeout(10000),
      });
      if (!res.ok) throw new Error(`attach ${peer}: HTTP ${res.status} ${await res.text()}`);
      ip(["link", "set", dev, "up"]);
    } catch (err) {
      // Start clean next round (deleting one end of a veth deletes both).
      ip(["link", "del", dev], false);
      throw err;
    }
    log(`${nwid}: interface ${dev} up (peer ${peer})`);
  }
  const have = (ip(["-o", "-4", "addr", "show", "dev", dev], false) || "")
    .split("\n")
    .map((l) => (/inet (\S+)/.exec(l) || [])[1])
    .filter(Boolean);
  for (const a of addresses) if (!have.includes(a)) ip(["addr", "add", a, "dev", dev]);
  for (const a of have) if (!addresses.includes(a)) ip(["addr", "del", a, "dev", dev], false);
  for (const r of routes) if (r.via) ip(["route", "replace", r.target, "via", r.via, "dev", dev], false);
}

function bringDown(nwid, cfg) {
  const dev = deviceName(nwid);
  if (cfg && cfg.manageInterfaces === "nic") {
    // A NIC cannot be deleted: it loses its addresses and goes down until the network is back.
    if (linkExists(dev)) {
      ip(["addr", "flush", "dev", dev], false);
      ip(["link", "set", "dev", dev, "down"], false);
    }
    return;
  }
  if (linkExists(dev)) {
    ip(["link", "del", dev], false);
    log(`${nwid}: interface ${dev} removed`);
  }
}

// ---- the background agent ----

async function syncNetwork(cfg, nodeId, nwid) {
  const file = networkFile(nwid);
  const cur = readJson(file);
  if (!cur) return;
  let res;
  try {
    res = await fetch(`${cfg.controllerUrl.replace(/\/+$/, "")}/_agent/config`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ nwid, nodeId, clientVersion: VERSION }),
      signal: AbortSignal.timeout(5000),
    });
  } catch (err) {
    log(`${nwid}: controller unreachable: ${err.cause ? err.cause.code : err.message}`);
    return;
  }
  writeJsonAtomic(AGENT_STATE, { lastContact: Date.now() });
  const body = await res.json().catch(() => ({}));
  const next = { ...cur, status: body.status || (res.status === 404 ? "NOT_FOUND" : cur.status) };
  if (next.status === "OK") {
    next.assignedAddresses = body.ipAssignments || [];
    next.routes = body.routes || [];
    next.name = body.name || "";
    next.private = body.private !== false;
    next.mtu = body.mtu || 2800;
    next.dns = body.dns || { domain: "", servers: [] };
    next.netconfRevision = (cur.netconfRevision || 0) + 1;
  } else {
    next.assignedAddresses = [];
  }
  // Leave may have removed the file while we waited for the controller.
  if (!fs.existsSync(file)) return;
  if (cfg.manageInterfaces !== false) {
    try {
      if (next.status === "OK" && next.assignedAddresses.length > 0)
        await bringUp(cfg, nodeId, nwid, next.assignedAddresses, next.routes);
      else bringDown(nwid, cfg);
    } catch (err) {
      // zerotier-one reports a tap it cannot set up as PORT_ERROR.
      log(`${nwid}: interface: ${err.message}`);
      next.status = "PORT_ERROR";
    }
  }
  if (JSON.stringify(next) !== JSON.stringify(cur)) {
    writeJsonAtomic(file, next);
    log(`${nwid}: status ${next.status} ${next.assignedAddresses.join(",")}`);
  }
}

/**
 * Where the controller is not on a directly connected network (a guest on an isolated libvirt
 * network), `cfg.controllerVia` is the gateway to it: the stand-in's path to the ZeroTier roots.
 */
function routeToController(cfg) {
  if (!cfg.controllerVia) return;
  const host = new URL(cfg.controllerUrl).hostname;
  ip(["route", "replace", `${host}/32`, "via", cfg.controllerVia], false);
}

/**
 * The agent. On demand (started by a cli command) it exits when no network is joined or after its
 * lifetime; as a service (`_agent --service`, zerotier-one.service in guests) it runs until stopped,
 * so a rebooted guest rejoins like zerotier-one does.
 */
async function agent(service) {
  const stale = Number((fs.existsSync(PID_FILE) && fs.readFileSync(PID_FILE, "utf8").trim()) || 0);
  if (service && stale && stale !== process.pid && !pidAlive(stale)) fs.rmSync(PID_FILE, { force: true });
  try {
    fs.writeFileSync(PID_FILE, String(process.pid), { flag: "wx" });
  } catch {
    if (!service) return; // another agent won the race
    // A service waits for the on-demand agent to go, so exactly one agent runs.
    await new Promise((r) => setTimeout(r, POLL_MS));
    return agent(service);
  }
  const cfg = readJson(CONFIG) || {};
  const nodeId = identity();
  const lifetimeMs = (cfg.agentLifetimeS || 7200) * 1000;
  const deadline = service ? Infinity : Date.now() + lifetimeMs;
  log(`agent ${process.pid} started for node ${nodeId}${service ? " (service)" : ""}`);
  if (service) process.on("SIGTERM", () => (fs.rmSync(PID_FILE, { force: true }), process.exit(0)));
  try {
    while (Date.now() < deadline) {
      const ids = joinedIds();
      if (ids.length === 0 && !service) break;
      routeToController(cfg);
      for (const nwid of ids) await syncNetwork(cfg, nodeId, nwid);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    fs.rmSync(PID_FILE, { force: true });
    log(`agent ${process.pid} stopped`);
  }
}

// ---- the cli ----

function fail(code, text) {
  process.stdout.write(text + "\n");
  process.exit(code);
}

/**
 * `zerotier-idtool` (the same binary under another name, like zerotier-one's): `generate [secret]
 * [public]` prints identity.secret without a newline, or writes the files and says "<file> written".
 */
function idtool(argv) {
  const cmd = argv[0];
  if (cmd === "generate") {
    const secret = newIdentitySecret();
    if (!argv[1]) return void process.stdout.write(secret);
    fs.writeFileSync(argv[1], secret, { mode: 0o600 });
    process.stdout.write(`${argv[1]} written\n`);
    if (argv[2]) {
      fs.writeFileSync(argv[2], publicOf(secret), { mode: 0o644 });
      process.stdout.write(`${argv[2]} written\n`);
    }
    return undefined;
  }
  if (cmd === "getpublic" && argv[1]) {
    const text = fs.existsSync(argv[1]) ? fs.readFileSync(argv[1], "utf8") : argv[1];
    if (!/^[0-9a-f]{10}:0:[0-9a-f]{128}:[0-9a-f]{128}$/.test(text.trim()))
      fail(1, `Identity argument invalid or file unreadable: ${argv[1]}`);
    return void process.stdout.write(publicOf(text));
  }
  fail(1, "zerotier-idtool stand-in: usage: generate [<secret file>] [<public file>] | getpublic <secret>");
  return undefined;
}

function main(argv) {
  if (/idtool/.test(path.basename(process.argv[1] || ""))) return idtool(argv);
  if (argv[0] === "_agent") return agent(argv.includes("--service"));
  const json = argv.includes("-j");
  const args = argv.filter(
    (a) => a !== "-j" && !a.startsWith("-D") && !a.startsWith("-p") && !a.startsWith("-T"),
  );
  const cmd = args[0];
  if (!fs.existsSync(CONFIG)) {
    fail(
      1,
      "Error connecting to the ZeroTier service: connection refused\n\n" +
        "Please check that the service is running and that TCP port 9993 can be contacted via 127.0.0.1.",
    );
  }
  fs.mkdirSync(NETS, { recursive: true });
  const nodeId = identity();
  ensureAgent();
  const needNwid = () => {
    const nwid = (args[1] || "").toLowerCase();
    if (!/^[0-9a-f]{16}$/.test(nwid) || /^0+$/.test(nwid)) fail(2, "invalid network id");
    return nwid;
  };
  switch (cmd) {
    case "info":
    case "status": {
      const online = isOnline();
      if (json) {
        const st = {
          address: nodeId,
          clock: Date.now(),
          online,
          planetWorldId: 149604618,
          tcpFallbackActive: false,
          version: VERSION,
        };
        return void process.stdout.write(JSON.stringify(st, null, 2) + "\n");
      }
      return void process.stdout.write(`200 info ${nodeId} ${VERSION} ${online ? "ONLINE" : "OFFLINE"}\n`);
    }
    case "join": {
      const nwid = needNwid();
      if (!fs.existsSync(networkFile(nwid))) {
        writeJsonAtomic(networkFile(nwid), {
          id: nwid,
          status: "REQUESTING_CONFIGURATION",
          assignedAddresses: [],
        });
      }
      ensureAgent();
      return void process.stdout.write(
        json ? JSON.stringify(networkJson(nwid, nodeId), null, 2) + "\n" : "200 join OK\n",
      );
    }
    case "leave": {
      const nwid = needNwid();
      fs.rmSync(networkFile(nwid), { force: true });
      try {
        bringDown(nwid, readJson(CONFIG));
      } catch (err) {
        log(`${nwid}: leave: ${err.message}`);
      }
      return void process.stdout.write(json ? '{"result": true}\n' : "200 leave OK\n");
    }
    case "listnetworks": {
      const nets = joinedIds().map((id) => networkJson(id, nodeId));
      if (json) return void process.stdout.write(JSON.stringify(nets, null, 2) + "\n");
      let out = "200 listnetworks <nwid> <name> <mac> <status> <type> <dev> <ZT assigned ips>\n";
      for (const n of nets) {
        const aa = n.assignedAddresses.length ? n.assignedAddresses.join(",") : "-";
        out += `200 listnetworks ${n.nwid} ${n.name} ${n.mac} ${n.status} ${n.type} ${n.portDeviceName} ${aa}\n`;
      }
      return void process.stdout.write(out);
    }
    case "get": {
      const nwid = needNwid();
      const field = args[2];
      if (!field) fail(1, "get requires a network id and a field name");
      if (!fs.existsSync(networkFile(nwid))) fail(1, `404 get ${nwid} not found`);
      const n = networkJson(nwid, nodeId);
      if (field === "ip" || field === "ip4") {
        const v4 = n.assignedAddresses.find((a) => a.includes("."));
        return void process.stdout.write((v4 ? v4.split("/")[0] : "") + "\n");
      }
      if (!(field in n)) fail(1, `unknown field ${field}`);
      const v = n[field];
      return void process.stdout.write((typeof v === "object" ? JSON.stringify(v) : String(v)) + "\n");
    }
    default:
      fail(
        1,
        `zerotier-cli stand-in: unknown command ${cmd || "(none)"}\nusage: info | join <nwid> | leave <nwid> | listnetworks [-j] | get <nwid> <field>`,
      );
  }
  return undefined;
}

if (require.main === module) {
  Promise.resolve(main(process.argv.slice(2))).catch((err) => {
    process.stderr.write(`zerotier-cli: ${err.message}\n`);
    process.exit(1);
  });
}

module.exports = { deviceName, macFor };
