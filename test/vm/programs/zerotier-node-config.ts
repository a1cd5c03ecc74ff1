/**
 * Stack config for test/vm/programs/zerotier-node.ts (a build-node VM on ZeroTier on the libvirt
 * testbed), shared by test/vm/zerotier.vm.test.ts and bench/vm-zerotier.ts.
 */
import * as path from "path";
import type { ConfigValue } from "../../harness";
import { ZT_BRIDGE } from "../../testbed";
import { libvirtProgramConfig, VIRT_NETWORK, type LibvirtTestbed } from "../../testbed/libvirt";
import { guestZerotierInstallCommand } from "../../testbed/zerotier/guest";
import type { ZerotierStandInInfo } from "../../testbed/zerotier/service";

export const ZEROTIER_NODE_PROGRAM = path.join(__dirname, "zerotier-node.ts");

/** The host address of a libvirt network: the first address of its subnet (as networkXml makes it). */
export const libvirtGateway = (cidr: string) => cidr.replace(/\.0\/\d+$/, ".1");

export interface ZerotierNodeSetup {
  libvirt: LibvirtTestbed;
  zerotier: ZerotierStandInInfo;
  telegram: { apiRoot: string; token: string; chatId: string };
  domainName: string;
  groupKey: string;
  /** The VM's fixed ZeroTier IP, inside ZT_BRIDGE's subnet and unused by other suites. */
  address: string;
}

export function zerotierNodeConfig(s: ZerotierNodeSetup): Record<string, ConfigValue> {
  return {
    ...libvirtProgramConfig(s.libvirt),
    "g8os:imageUrl": `file://${s.libvirt.image.disk}`,
    "g8os:imageSha256": s.libvirt.image.sha256,
    "g8os:domainName": s.domainName,
    "g8os:groupKey": s.groupKey,
    "g8os:zerotierApiUrl": s.zerotier.url,
    "g8os:zerotierToken": { secret: s.zerotier.token },
    "g8os:zerotierRoute": ZT_BRIDGE.cidr,
    "g8os:zerotierAddress": s.address,
    "g8os:zerotierBridge": ZT_BRIDGE.name,
    "g8os:zerotierInstallCommand": guestZerotierInstallCommand(s.zerotier, {
      controllerVia: libvirtGateway(VIRT_NETWORK.cidr),
    }),
    "g8os:telegramApiRoot": s.telegram.apiRoot,
    "g8os:telegramBotToken": { secret: s.telegram.token },
    "g8os:telegramChatId": s.telegram.chatId,
  };
}
