/**
 * The ufw dead-man switch as ONE host-side state machine (a POSIX sh script the provider installs
 * at `/var/lib/g8os/firewall/switch`), so that faults between two applies can never stack up into
 * a lockout:
 *
 * - At most one pending change per host (`pending`: token, deadline, switch pid). Every operation
 *   takes the host-wide lock (`flock`).
 * - `arm TOKEN T` first settles a pending change of another apply: it stops that switch and puts the
 *   last *confirmed* firewall back right away. It never takes an unconfirmed lockdown as "previous".
 *   Re-arming with the same token (a retried session) is a no-op: no second switch.
 * - `confirmed/` holds the last confirmed firewall (/etc/ufw and whether ufw was active); the first
 *   arm ever also keeps `original/`, what the host had before g8os, which `uninstall` restores.
 * - The detached switch (`fire`) sleeps T, then restores `confirmed/` only if its own token is still
 *   pending: a switch never undoes a change it did not arm, nor one that was confirmed.
 * - `policy TOKEN ...` changes ufw only while TOKEN is armed and its deadline has not passed (checked
 *   before each ufw step: a policy whose SSH session was killed runs on, holding the lock, and must
 *   not keep the switch waiting), and removes the timestamped backups its `ufw --force reset` leaves
 *   in /etc/ufw.
 * - `confirm TOKEN` snapshots the confirmed state and stops the switch; run again after a lost
 *   answer, it reports the earlier outcome.
 * - `boot` (a systemd unit, where systemd runs): a change still pending at boot lost its switch with
 *   the reboot, so it is undone at once.
 *
 * The script runs commands from this module only; the builders below quote every argument.
 */
import { shellQuote } from "../shared/ssh";

/** Where the switch keeps its state on the host. */
export const STATE_DIR = "/var/lib/g8os/firewall";
export const SWITCH_PATH = `${STATE_DIR}/switch`;
/** Parent of STATE_DIR, removed on uninstall when nothing else of g8os is left in it. */
export const G8OS_DIR = "/var/lib/g8os";
/** systemd unit that settles a change left pending by a reboot. */
export const BOOT_UNIT = "/etc/systemd/system/g8os-ufw-switch.service";

/**
 * Seconds a restore may take after the switch's deadline: waiting for the lock (a policy stops at its
 * next ufw step once the deadline has passed; one step takes seconds), copying /etc/ufw back, and
 * `ufw enable/reload` or `disable` (slow under emulation). Every message that promises a revert time
 * adds this.
 */
export const RESTORE_BOUND_SEC = 30;

const SCRIPT = String.raw`#!/bin/sh
# g8os ufw dead-man switch, installed by the g8os stack (ZerotierOnlySsh). Do not edit: each apply
# rewrites it. State: pending (token deadline pid), confirmed/ and original/ (etc-ufw + was).
set -u
D=${STATE_DIR}
umask 077
mkdir -p "$D"
now() { date +%s; }
say() { printf '%s\n' "$*"; }

lock() { exec 9>"$D/lock"; if [ "$1" = wait ]; then flock 9; else flock -w 60 9 || { say "busy"; exit 75; }; fi; }

snapshot() { # $1 = target dir
  rm -rf "$1.tmp" && mkdir -p "$1.tmp/etc-ufw" && cp -a /etc/ufw/. "$1.tmp/etc-ufw/" || return 1
  if ufw status 2>/dev/null | grep -q '^Status: active'; then say active; else say inactive; fi > "$1.tmp/was"
  rm -rf "$1" && mv "$1.tmp" "$1"
}

restore() { # $1 = source dir
  [ -d "$1/etc-ufw" ] || return 1
  find /etc/ufw -mindepth 1 -maxdepth 1 -exec rm -rf {} + && cp -a "$1/etc-ufw/." /etc/ufw/ || return 1
  if [ "$(cat "$1/was" 2>/dev/null)" = active ]; then
    ufw --force enable >/dev/null && ufw reload >/dev/null
  else
    ufw --force disable >/dev/null
  fi
}

backups() { ls -1 /etc/ufw 2>/dev/null | grep -E '\.[0-9]{8}_[0-9]{6}$' || true; }

drop_new_backups() { # $1 = the list before
  for f in $(backups); do
    case "
$1
" in *"
$f
"*) ;; *) rm -f "/etc/ufw/$f" ;; esac
  done
}

ufw_reset() { # ufw stamps its backups to the second and aborts on a clash: retry once
  ufw --force reset >/dev/null 2>&1 || { sleep 1; ufw --force reset >/dev/null; }
}

pending_field() { [ -f "$D/pending" ] && cut -d' ' -f"$1" "$D/pending"; }

stop_switch() { # $1 = pid of a switch's process group
  [ -n "$1" ] && kill -TERM -"$1" 2>/dev/null; return 0
}

alive() { # $1 = pid; a zombie (killed, not yet reaped) is not alive
  st=$(sed -n 's/^.*) \([A-Za-z]\).*$/\1/p' "/proc/$1/stat" 2>/dev/null)
  [ -n "$st" ] && [ "$st" != Z ]
}

armed_alive() { # $1 = token: armed, and its switch still runs
  [ "$(pending_field 1)" = "$1" ] && alive "$(pending_field 3)"
}

settle_other() { # $1 = our token; undoes another apply's unconfirmed change
  ptoken=$(pending_field 1)
  [ -n "$ptoken" ] && [ "$ptoken" != "$1" ] || return 0
  stop_switch "$(pending_field 3)"
  restore "$D/confirmed" || { say "cannot restore the confirmed firewall"; exit 1; }
  rm -f "$D/pending"; say cancelled > "$D/outcome.$ptoken"
  say "settled $ptoken"
}

install_boot_unit() {
  [ -d /run/systemd/system ] || return 0
  [ -f ${BOOT_UNIT} ] || {
    printf '%s\n' '[Unit]' 'Description=g8os: undo a ufw change left unconfirmed by a reboot' \
      'After=ufw.service' '' '[Service]' 'Type=oneshot' "ExecStart=/bin/sh $D/switch boot" '' \
      '[Install]' 'WantedBy=multi-user.target' > ${BOOT_UNIT}
    systemctl daemon-reload >/dev/null 2>&1; systemctl enable g8os-ufw-switch.service >/dev/null 2>&1
  }
  return 0
}

op=${"${1:-status}"}
case "$op" in
arm) # TOKEN SECONDS
  token=$2; secs=$3
  lock try
  if armed_alive "$token"; then say "armed $token $(pending_field 2) $(now) again"; exit 0; fi
  if [ "$(pending_field 1)" = "$token" ]; then # armed, but its switch is gone (killed, reboot)
    restore "$D/confirmed" || { say "cannot restore the confirmed firewall"; exit 1; }
    rm -f "$D/pending"
  fi
  settle_other "$token"
  [ -d "$D/original" ] || snapshot "$D/original" || { say "cannot save /etc/ufw"; exit 1; }
  [ -d "$D/confirmed" ] || cp -a "$D/original" "$D/confirmed" || exit 1
  find "$D" -maxdepth 1 -name 'outcome.*' -mmin +1440 -exec rm -f {} + 2>/dev/null
  install_boot_unit
  t0=$(now); deadline=$((t0 + secs))
  setsid sh "$D/switch" fire "$token" "$secs" </dev/null >/dev/null 2>&1 9>&- &
  say "$token $deadline $!" > "$D/pending.tmp" && mv "$D/pending.tmp" "$D/pending"
  say "armed $token $deadline $t0"
  ;;
fire) # TOKEN SECONDS (detached)
  trap '' HUP
  sleep "$3"
  lock wait
  [ "$(pending_field 1)" = "$2" ] || exit 0
  restore "$D/confirmed"
  rm -f "$D/pending"; say reverted > "$D/outcome.$2"
  ;;
policy) # TOKEN IFACE PORT UDP(1|0)
  trap '' HUP PIPE
  lock try
  armed_alive "$2" || { say "not armed: $2"; exit 4; }
  deadline=$(pending_field 2)
  before=$(backups)
  # Each step first checks the deadline: a policy whose session died keeps running, holding the
  # lock, and the switch must not wait behind it past its deadline (it restores right after).
  run() {
    [ "$(now)" -lt "$deadline" ] || { drop_new_backups "$before"; say "deadline passed before: $*"; exit 5; }
    out=$("$@" 2>&1) || { drop_new_backups "$before"; say "step failed: $*: $out"; exit 1; }
  }
  run ufw_reset
  run ufw default deny incoming
  run ufw default allow outgoing
  run ufw allow in on "$3" to any port "$4" proto tcp comment g8os-ssh-over-zerotier
  [ "$5" = 1 ] && run ufw allow 9993/udp comment g8os-zerotier
  run ufw --force enable
  drop_new_backups "$before"
  say "applied $2"
  ;;
confirm) # TOKEN
  trap '' HUP PIPE
  lock try
  if [ "$(pending_field 1)" = "$2" ]; then
    stop_switch "$(pending_field 3)"
    snapshot "$D/confirmed" || { say "cannot save the confirmed firewall"; exit 1; }
    rm -f "$D/pending"; say confirmed > "$D/outcome.$2"
    say confirmed
  elif [ "$(cat "$D/outcome.$2" 2>/dev/null)" = confirmed ]; then
    say confirmed
  else
    say "not-pending $(cat "$D/outcome.$2" 2>/dev/null || say unknown)"; exit 3
  fi
  ;;
status) # [TOKEN]
  if [ -f "$D/pending" ]; then say "pending $(cat "$D/pending") $(now)"; else say "pending none - - $(now)"; fi
  if ufw status 2>/dev/null | grep -q '^Status: active'; then say "ufw active"; else say "ufw inactive"; fi
  [ -n "${"${2:-}"}" ] && say "outcome $(cat "$D/outcome.$2" 2>/dev/null || say none)"
  exit 0
  ;;
boot)
  lock wait
  [ -f "$D/pending" ] || exit 0
  ptoken=$(pending_field 1)
  restore "$D/confirmed"
  rm -f "$D/pending"; say reverted-at-boot > "$D/outcome.$ptoken"
  ;;
uninstall)
  trap '' HUP PIPE
  lock try
  stop_switch "$(pending_field 3)"
  if [ -d "$D/original" ]; then
    restore "$D/original" || { say "cannot restore the original firewall"; exit 1; }
  else
    before=$(backups); ufw_reset; drop_new_backups "$before"
  fi
  if [ -f ${BOOT_UNIT} ]; then
    systemctl disable g8os-ufw-switch.service >/dev/null 2>&1; rm -f ${BOOT_UNIT}
    systemctl daemon-reload >/dev/null 2>&1
  fi
  rm -rf "$D"; rmdir ${G8OS_DIR} 2>/dev/null
  say uninstalled
  ;;
*) say "unknown operation $op"; exit 2 ;;
esac
`;

/** The script body (installed with mode 0700 before each use). */
export function switchScript(): string {
  return SCRIPT;
}

function call(...args: string[]): string {
  return `sh ${SWITCH_PATH} ${args.map(shellQuote).join(" ")}`;
}

export const armCommand = (token: string, seconds: number) => call("arm", token, String(seconds));
export const confirmCommand = (token: string) => call("confirm", token);
export const statusCommand = (token?: string) => call("status", ...(token ? [token] : []));
export const uninstallCommand = () => call("uninstall");
export function policyCommand(
  token: string,
  p: { interfaceName: string; sshPort: number; allowZerotierUdp?: boolean },
): string {
  return call("policy", token, p.interfaceName, String(p.sshPort), p.allowZerotierUdp === false ? "0" : "1");
}

export interface Armed {
  token: string;
  /** Host clock, Unix seconds: when the switch restores unless confirmed. */
  deadline: number;
  /** Host clock when armed (for converting the deadline to local time). */
  hostNow: number;
  /** True when this token was already armed (a retried session). */
  again: boolean;
}

/** Parses the last line of `arm`: `armed TOKEN DEADLINE NOW [again]`. */
export function parseArm(stdout: string): Armed | undefined {
  const m = /^armed ([0-9a-f]+) (\d+) (\d+)( again)?$/m.exec(stdout.trim().split("\n").pop() ?? "");
  if (!m) return undefined;
  return { token: m[1], deadline: Number(m[2]), hostNow: Number(m[3]), again: !!m[4] };
}

export interface SwitchStatus {
  /** The pending change, if any. */
  pending?: { token: string; deadline: number };
  /** Host clock when asked (Unix seconds). */
  hostNow: number;
  ufwActive: boolean;
  /** Outcome recorded for the token asked about: confirmed, reverted, cancelled, reverted-at-boot. */
  outcome?: string;
}

/** Parses `status [TOKEN]`. */
export function parseStatus(stdout: string): SwitchStatus | undefined {
  const p = /^pending (\S+) (\S+) (\S+) (\d+)$/m.exec(stdout);
  if (!p) return undefined;
  const o = /^outcome (\S+)$/m.exec(stdout);
  return {
    pending: p[1] === "none" ? undefined : { token: p[1], deadline: Number(p[2]) },
    hostNow: Number(p[4]),
    ufwActive: /^ufw active$/m.test(stdout),
    outcome: o && o[1] !== "none" ? o[1] : undefined,
  };
}
