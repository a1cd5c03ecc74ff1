/**
 * ZeroTier inside the libvirt testbed's guests: what `apt install zerotier-one` is on a real VM.
 * The guest image carries Node.js; this install command puts the node-agent stand-in
 * (zerotier-cli.js, also answering as zerotier-idtool) into the guest, configures it and runs it as
 * zerotier-one.service. The agent runs in "nic" mode: the VM's second NIC, on the testbed's ZeroTier
 * bridge, becomes the network's interface (tap name, ZeroTier MAC, assigned address), so the guest
 * sits on the same wire as the test hosts and the root namespace (10.214.0.254).
 * The guest reaches the controller stand-in (on the public bridge's gateway) through the libvirt
 * network's host address: an isolated network has no default route.
 */
import * as fs from "fs";
import * as path from "path";
import type { ZerotierStandInInfo } from "./service";

const AGENT_SOURCE = path.join(__dirname, "zerotier-cli.js");

const UNIT = `[Unit]
Description=ZeroTier One (g8os testbed stand-in)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/local/sbin/zerotier-cli _agent --service
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
`;

export interface GuestZerotierOptions {
  /** The guest's gateway to the controller stand-in: the libvirt network's host address. */
  controllerVia: string;
  /** MAC of the guest NIC on the ZeroTier bridge; default the first NIC without IPv4. */
  nicMac?: string;
}

/** One shell line (for cloud-init runcmd) that installs and starts the stand-in zerotier-one. */
export function guestZerotierInstallCommand(info: ZerotierStandInInfo, o: GuestZerotierOptions): string {
  const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64");
  const config = {
    controllerUrl: info.url,
    controllerVia: o.controllerVia,
    manageInterfaces: "nic",
    ...(o.nicMac ? { nicMac: o.nicMac } : {}),
  };
  const write = (content: string | Buffer, file: string, mode: string) =>
    `echo ${b64(content)} | base64 -d > ${file} && chmod ${mode} ${file}`;
  return [
    "mkdir -p /var/lib/zerotier-one /usr/local/sbin",
    write(fs.readFileSync(AGENT_SOURCE), "/usr/local/sbin/zerotier-cli", "755"),
    "ln -sf zerotier-cli /usr/local/sbin/zerotier-idtool",
    write(JSON.stringify(config), "/var/lib/zerotier-one/g8os-standin.json", "644"),
    write(UNIT, "/etc/systemd/system/zerotier-one.service", "644"),
    "systemctl daemon-reload",
    "systemctl enable --now zerotier-one.service",
  ].join(" && ");
}
