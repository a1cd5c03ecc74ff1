/** The VM keys of the build config (read only when g8os:vmsEnabled is true). */
import { offsetIPv4, VM_ADDRESS_OFFSETS } from "../components/vm";
import { httpUrl, parseIPv4, sha256Hex } from "../providers/shared/validate";
import type { ConfigReader } from "./config-reader";
import { checkFixedAddress } from "./config-network";
import type { VmSettings, ZerotierSettings } from "./config-types";
import { NOT_PINNED, requirePinned, type FilePin, type PinName, type Pins } from "./pins";

const booleanText = (v: unknown) => (v === "true" || v === "false" ? undefined : "must be true or false");

/** Reads the VM keys (only when vmsEnabled): images pinned by sha256, fixed addresses, flags. */
export function readVmConfig(
  r: ConfigReader,
  zerotier: ZerotierSettings,
  hostZtIp: string,
  pins: Pins,
): VmSettings | undefined {
  if (
    (r.string("vmsEnabled", { check: booleanText, example: "true", default: "false" }) ?? "false") !== "true"
  )
    return undefined;
  // Each image comes from pins.yaml (or g8os:pins); the older per-image keys override it field by field.
  const pinned = (name: PinName, urlKey: string, shaKey: string, pin: FilePin | undefined, hint: string) => {
    const url = r.string(urlKey, { check: httpUrl, example: "https://example.org/image" });
    const sha256 = r.string(shaKey, {
      example: "<64 hex chars from the publisher's SHA256SUMS>",
      check: sha256Hex,
    });
    if (!pin && url === undefined) return undefined;
    const out = { url: url ?? pin?.url ?? NOT_PINNED, sha256: sha256 ?? pin?.sha256 ?? NOT_PINNED };
    requirePinned(r, name, out, { url: urlKey, sha256: shaKey }, hint);
    return out;
  };
  const image = pinned(
    "ubuntuImage",
    "vmImageUrl",
    "vmImageSha256",
    pins.ubuntuImage,
    "a dated release URL and its line of the SHA256SUMS next to it",
  )!;
  const core0Kernel = pinned(
    "core0Kernel",
    "core0KernelUrl",
    "core0KernelSha256",
    pins.core0Kernel,
    "an image that meets docs/core0-image-contract.md",
  )!;
  const core0Initrd = pinned("core0Initrd", "core0InitrdUrl", "core0InitrdSha256", pins.core0Initrd, "");
  if (!core0Initrd && r.isSet("core0InitrdSha256"))
    r.add(
      "core0InitrdSha256",
      "is set but core0InitrdUrl is not",
      "set g8os:core0InitrdUrl, or remove the digest",
    );
  const flags =
    r.list("core0KernelFlags", {
      example: ["development"],
      check: (f) =>
        typeof f === "string" && /^[a-z][a-z0-9_.-]*(=[A-Za-z0-9_.:/-]+)?$/.test(f)
          ? undefined
          : "must be one word or key=value without spaces",
    }) ?? [];
  const base = parseIPv4(hostZtIp) === undefined ? "0.0.0.0" : hostZtIp;
  const fixed = (key: string, offset: number) => {
    const ip = r.string(key, { example: "10.147.17.5", default: offsetIPv4(base, offset) })!;
    checkFixedAddress(r, key, ip, zerotier);
    return ip;
  };
  const core0Set = r.list("core0ZerotierIps", { example: ["10.147.17.3", "10.147.17.4"] });
  const core0List = core0Set ?? VM_ADDRESS_OFFSETS.core0.map((o) => offsetIPv4(base, o));
  if (core0List.length !== 2)
    r.add(
      "core0ZerotierIps",
      `lists ${core0List.length} address${core0List.length === 1 ? "" : "es"}; there are 2 core0 nodes`,
      'list exactly 2 addresses, e.g. ["10.147.17.3", "10.147.17.4"]',
    );
  core0List.forEach((ip, i) => checkFixedAddress(r, `core0ZerotierIps[${i}]`, ip, zerotier));
  const settings: VmSettings = {
    image,
    core0Kernel,
    core0Initrd,
    core0KernelFlags: flags,
    buildNodeZerotierIp: fixed("buildNodeZerotierIp", VM_ADDRESS_OFFSETS.buildNode),
    core0ZerotierIps: [core0List[0] ?? "", core0List[1] ?? ""],
    cockpitZerotierIp: fixed("cockpitZerotierIp", VM_ADDRESS_OFFSETS.cockpit),
    core0VerifyRedis:
      r.string("core0VerifyRedis", { check: booleanText, example: "true", default: "false" }) === "true",
    kvmDomainType: "auto",
  };
  const dt = r.string("kvmDomainType", { default: "auto" })!;
  if (dt === "auto" || dt === "kvm" || dt === "qemu") settings.kvmDomainType = dt;
  else r.add("kvmDomainType", `is "${dt}"`, 'use "auto", "kvm" or "qemu"');
  // Each machine's address, under the key that set it (or that its default comes from).
  const all: [string, string][] = [
    ["buildHostZerotierIp", hostZtIp],
    ["buildNodeZerotierIp", settings.buildNodeZerotierIp],
    ...core0List.map((ip, i): [string, string] => [`core0ZerotierIps[${i}]`, ip]),
    ["cockpitZerotierIp", settings.cockpitZerotierIp],
  ];
  all.forEach(([key, ip], i) => {
    const first = all.findIndex(([, other]) => other === ip);
    if (first < i)
      r.add(key, `${ip} is also the address of ${all[first][0]}`, "give each machine its own fixed address");
  });
  return settings;
}
