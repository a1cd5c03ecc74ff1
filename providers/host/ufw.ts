/**
 * The shell side of "SSH only over ZeroTier": the ufw policy and the dead-man switch that undoes
 * it unless confirmed. Pure string builders, unit-tested; the firewall resource runs them.
 *
 * The dead-man switch: before ufw changes, a detached `sleep T` job is armed on the host. When it
 * wakes and finds no confirmation file, it restores the saved /etc/ufw and the previous
 * enabled/disabled state. The provider confirms only after a NEW SSH connection over ZeroTier
 * succeeded, so a broken ZeroTier path can never lock the host out for longer than T.
 */
import { shellQuote } from "../shared/ssh";

export const STATE_DIR = "/var/lib/g8os/firewall";

export interface UfwPolicy {
  /** ZeroTier interface allowed to reach SSH (e.g. ztabcdefgh). */
  interfaceName: string;
  /** SSH port. */
  sshPort: number;
  /** Also accept ZeroTier's own UDP port so peers can reach the node directly. Default true. */
  allowZerotierUdp?: boolean;
}

/**
 * `ufw --force reset`, robust: ufw backs up its rules under names stamped to the second and aborts
 * ("... already exists. Aborting") when a reset in the same second made that backup: retry once.
 */
export const UFW_RESET = "ufw --force reset || { sleep 1; ufw --force reset; }";

/** Commands that set the policy, one per element (run one at a time: each status matters). */
export function policyCommands(p: UfwPolicy): string[] {
  const cmds = [
    // g8os owns the host's ufw policy: start from nothing so no older "allow 22" keeps SSH public.
    UFW_RESET,
    "ufw default deny incoming",
    "ufw default allow outgoing",
    `ufw allow in on ${shellQuote(p.interfaceName)} to any port ${p.sshPort} proto tcp comment g8os-ssh-over-zerotier`,
  ];
  if (p.allowZerotierUdp ?? true) cmds.push("ufw allow 9993/udp comment g8os-zerotier");
  cmds.push("ufw --force enable");
  return cmds;
}

/** Saves /etc/ufw and whether ufw was active, under a token-named directory. */
export function backupCommand(token: string): string {
  const dir = `${STATE_DIR}/${token}`;
  return (
    `set -e; mkdir -p ${dir}/etc-ufw; cp -a /etc/ufw/. ${dir}/etc-ufw/; ` +
    `if ufw status | grep -q '^Status: active'; then echo active > ${dir}/was; else echo inactive > ${dir}/was; fi`
  );
}

/** Arms the switch: detached, survives the SSH session, restores unless `confirmed` appears in time. */
export function armDeadManCommand(token: string, seconds: number): string {
  const dir = `${STATE_DIR}/${token}`;
  const restore =
    `if [ ! -e ${dir}/confirmed ]; then ` +
    `cp -a ${dir}/etc-ufw/. /etc/ufw/; ` +
    `if [ "$(cat ${dir}/was)" = active ]; then ufw --force enable; ufw reload; else ufw --force disable; fi; ` +
    `echo reverted > ${dir}/outcome; fi`;
  return `setsid sh -c ${shellQuote(`sleep ${seconds}; ${restore}`)} > /dev/null 2>&1 < /dev/null & echo armed`;
}

export function confirmCommand(token: string): string {
  return `touch ${STATE_DIR}/${token}/confirmed && echo confirmed > ${STATE_DIR}/${token}/outcome`;
}

/** Prints "reverted", "confirmed" or nothing (still pending). */
export function outcomeCommand(token: string): string {
  return `cat ${STATE_DIR}/${token}/outcome 2>/dev/null || true`;
}

export interface UfwStatus {
  active: boolean;
  /** True when incoming is denied by default and SSH is allowed only on `interfaceName`. */
  enforced: boolean;
}

/** Interprets `ufw status verbose` against the policy. */
export function parseUfwStatus(text: string, p: UfwPolicy): UfwStatus {
  const active = /^Status: active/m.test(text);
  const denyIn = /^Default: (deny|reject) \(incoming\)/m.test(text);
  const rule = new RegExp(`^${p.sshPort}(/tcp)?\\b(?!/udp)`);
  const sshRules = text.split("\n").filter((l) => rule.test(l.trim()) && /ALLOW/.test(l));
  const onlyZt = sshRules.length > 0 && sshRules.every((l) => l.includes(` on ${p.interfaceName}`));
  return { active, enforced: active && denyIn && onlyZt };
}
