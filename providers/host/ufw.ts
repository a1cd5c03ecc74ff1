/**
 * The ufw policy g8os owns on a host, and how `ufw status verbose` is read against it. The
 * commands that change ufw run inside the host-side dead-man switch (ufw-switch.ts).
 *
 * g8os owns the whole incoming policy: deny by default, SSH only on the ZeroTier interface, and
 * ZeroTier's own UDP port. Every rule carries a `g8os-` comment; any other rule (allow or deny,
 * added by hand or by a tool) is drift: refresh reports it and the next `up` removes it.
 */

export interface UfwPolicy {
  /** ZeroTier interface allowed to reach SSH (e.g. ztabcdefgh). */
  interfaceName: string;
  /** SSH port. */
  sshPort: number;
  /** Also accept ZeroTier's own UDP port so peers can reach the node directly. Default true. */
  allowZerotierUdp?: boolean;
}

/** Comment every rule g8os makes carries (ufw shows it after `#`). */
export const RULE_TAG = "g8os-";

export interface UfwStatus {
  active: boolean;
  /** Incoming denied (or rejected) by default. */
  denyIncoming: boolean;
  /** SSH allowed, and only on the policy's interface. */
  sshOnlyOnZerotier: boolean;
  /** Rules g8os did not make, as ufw prints them. */
  foreignRules: string[];
  /** Active, deny by default, SSH only over ZeroTier, and no foreign rule. */
  enforced: boolean;
}

/** Interprets `ufw status verbose` against the policy. */
export function parseUfwStatus(text: string, p: UfwPolicy): UfwStatus {
  const active = /^Status: active/m.test(text);
  const denyIncoming = /^Default: (deny|reject) \(incoming\)/m.test(text);
  const lines = text.split("\n");
  const start = lines.findIndex((l) => /^--\s+-+\s+--/.test(l.trim()));
  const rules = start < 0 ? [] : lines.slice(start + 1).filter((l) => l.trim() !== "");
  const sshRule = new RegExp(`^${p.sshPort}(/tcp)?\\b(?!/udp)`);
  const sshRules = rules.filter((l) => sshRule.test(l.trim()) && /ALLOW/.test(l));
  const sshOnlyOnZerotier =
    sshRules.length > 0 && sshRules.every((l) => l.includes(` on ${p.interfaceName}`));
  const foreignRules = rules
    .filter((l) => !l.includes(`# ${RULE_TAG}`))
    .map((l) => l.trim().replace(/\s{2,}/g, "  "));
  return {
    active,
    denyIncoming,
    sshOnlyOnZerotier,
    foreignRules,
    enforced: active && denyIncoming && sshOnlyOnZerotier && foreignRules.length === 0,
  };
}

/** Why a status is not enforced, in words for refresh warnings and errors. */
export function driftReasons(st: UfwStatus): string[] {
  const out: string[] = [];
  if (!st.active) out.push("ufw is inactive");
  if (st.active && !st.denyIncoming) out.push("incoming traffic is not denied by default");
  if (st.active && !st.sshOnlyOnZerotier) out.push("SSH is not allowed only on the ZeroTier interface");
  if (st.foreignRules.length > 0) out.push(`rules g8os did not make: ${st.foreignRules.join("; ")}`);
  return out;
}
