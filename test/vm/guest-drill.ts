/**
 * Fault injection inside a libvirt guest, for the firewall drills on a build-node VM: the in-guest
 * counterpart of test/build-host/drill-watcher.ts. A bash watcher runs in the guest (started over
 * SSH, detached) and scans /proc for processes whose command line matches a rule, firing the rule's
 * action when one starts or once it has exited. It uses bash builtins only (mapfile, read, [[ ]]):
 * the guest image has no procps, and forking a helper per /proc entry is far too slow under TCG to
 * catch a command that lives a second. Every match is logged, so a test can tell "the fault fired"
 * from "the fault never happened", and can react to a match itself (e.g. deauthorise the member).
 */
import type { SshSession } from "../../providers/shared/ssh";

/** What a rule does in the guest when it fires. */
export type GuestAction =
  /** SIGKILL the SSH session the matched process runs in: the client sees its session die. */
  | { kind: "kill-session" }
  /** Take the ZeroTier NIC down; it comes back by itself after `healAfterSec` (an outage that ends). */
  | { kind: "link-down"; dev: string; healAfterSec: number }
  /** Stop the ZeroTier service (zerotier-one.service); it is started again after `healAfterSec`. */
  | { kind: "agent-stop"; healAfterSec: number }
  /** Only log the match (the test reacts to it). */
  | { kind: "log" };

export interface GuestRule {
  /** Name logged when it fires. [a-z0-9-] only. */
  name: string;
  /** A bash `[[ == ]]` pattern matched against the whole command line (arguments joined by spaces). */
  pattern: string;
  moment: "start" | "exit";
  action: GuestAction;
  /** Fire for every matching process (default: the first only). */
  every?: boolean;
}

/** Scans of /proc in which one process's command line is read (see the script). */
const READS_PER_PROCESS = 4;
/** Pause between two scans of /proc. */
const SCAN_PAUSE_SEC = 0.1;

/** Where a watcher keeps its rules, log and stop flag. */
export const DRILL_DIR = "/run/g8os-drill";

function actionScript(a: GuestAction): string {
  switch (a.kind) {
    case "kill-session":
      return "kill_session $pid";
    case "link-down":
      return `ip link set dev ${a.dev} down; ( sleep ${a.healAfterSec}; ip link set dev ${a.dev} up; say healed link ) &`;
    case "agent-stop":
      return `systemctl stop zerotier-one.service; ( sleep ${a.healAfterSec}; systemctl start zerotier-one.service; say healed agent ) &`;
    case "log":
      return ":";
  }
}

/** A `*`-wildcard pattern as a bash glob: the literal parts quoted (they hold spaces). */
function globOf(pattern: string): string {
  if (/["$`\\]/.test(pattern)) throw new Error(`pattern ${pattern}: no quotes, $, backticks or backslashes`);
  return pattern
    .split("*")
    .map((part) => (part ? `"${part}"` : ""))
    .join("*");
}

/** The watcher script for one set of rules (bash, builtins only in the scan loop). */
export function guestWatcherScript(
  id: string,
  rules: GuestRule[],
  lifetimeSec = 900,
  baseDir = DRILL_DIR,
): string {
  for (const r of rules)
    if (!/^[a-z0-9-]+$/.test(r.name)) throw new Error(`rule name ${r.name}: [a-z0-9-] only`);
  const dir = `${baseDir}/${id}`;
  const lines = [
    "#!/bin/bash",
    `dir=${dir}; log=$dir/log; end=$(( SECONDS + ${lifetimeSec} ))`,
    'say() { printf "%s %s\\n" "$EPOCHREALTIME" "$*" >> "$log"; }',
    "ppid_of() { local st; read -r st < /proc/$1/stat 2>/dev/null || return 1; st=${st##*) }; set -- $st; echo $2; }",
    // The session process is the listener's child on the way up from the matched process.
    "kill_session() {",
    '  local p=$1 listener parent; read -r listener < "${SSHD_PID_FILE:-/run/sshd.pid}"',
    "  for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do",
    "    parent=$(ppid_of $p) || { say kill-session: pid $p gone; return; }",
    '    if [[ $parent == "$listener" ]]; then kill -9 $p && say killed session $p; return; fi',
    "    [[ $parent -le 1 ]] && { say kill-session: no session above $1; return; }",
    "    p=$parent",
    "  done",
    "}",
    // seen[pid]: how often its command line was read. A process is read on its first few scans
    // only (a fork shows its parent's command line until it execs, within those scans): reading
    // every process on every scan kept a 1-vCPU TCG guest busy and slowed what the drill measures.
    "declare -A watched fired seen",
    "say watching",
    "while (( SECONDS < end )) && [[ ! -e $dir/stop ]]; do",
    "  for d in /proc/[0-9]*; do",
    "    pid=${d#/proc/}",
    "    [[ -n ${watched[$pid]} ]] && continue",
    `    n=\${seen[$pid]:-0}; (( n >= ${READS_PER_PROCESS} )) && continue; seen[$pid]=$((n + 1))`,
    "    mapfile -d '' -t args 2>/dev/null < $d/cmdline || continue",
    '    cmd="${args[*]}"; [[ -z $cmd ]] && continue',
  ];
  rules.forEach((r, i) => {
    const once = r.every ? "" : ` && -z \${fired[${i}]}`;
    lines.push(`    if [[ $cmd == ${globOf(r.pattern)}${once} ]]; then`);
    if (r.moment === "start") {
      lines.push(`      fired[${i}]=1; watched[$pid]=done; say fired ${r.name} pid=$pid cmd="$cmd"`);
      lines.push(`      ${actionScript(r.action)}`);
    } else {
      lines.push(`      fired[${i}]=1; watched[$pid]=${i}; say saw ${r.name} pid=$pid cmd="$cmd"`);
    }
    lines.push("    fi");
  });
  lines.push("  done");
  // Exit moments: a watched process whose /proc entry is gone has finished.
  lines.push('  for pid in "${!watched[@]}"; do');
  lines.push("    i=${watched[$pid]}; [[ $i == done || -e /proc/$pid ]] && continue");
  lines.push("    watched[$pid]=done");
  lines.push("    case $i in");
  rules.forEach((r, i) => {
    if (r.moment === "exit")
      lines.push(`      ${i}) say fired ${r.name} pid=$pid exited; ${actionScript(r.action)} ;;`);
  });
  lines.push("    esac");
  lines.push("  done");
  lines.push(`  sleep ${SCAN_PAUSE_SEC}`);
  lines.push("done");
  lines.push("say stopped");
  return lines.join("\n") + "\n";
}

/** Starts a watcher in the guest, detached from the SSH session that starts it. */
export async function startGuestWatcher(s: SshSession, id: string, rules: GuestRule[]): Promise<void> {
  const dir = `${DRILL_DIR}/${id}`;
  // The script is written first, in its own list: `a && cat > f && b &` would put `cat` in the
  // background too, where a non-interactive shell gives it /dev/null for stdin (an empty script).
  await s.exec(
    `mkdir -p ${dir} && rm -f ${dir}/stop ${dir}/log && cat > ${dir}/watch.sh || exit 2; ` +
      `setsid bash ${dir}/watch.sh > /dev/null 2>&1 < /dev/null & ` +
      `for i in $(seq 100); do [ -s ${dir}/log ] && exit 0; sleep 0.1; done; exit 1`,
    { stdin: guestWatcherScript(id, rules), step: "start the drill watcher" },
  );
}

/** Stops a watcher and returns its log lines (without timestamps). */
export async function stopGuestWatcher(s: SshSession, id: string): Promise<string[]> {
  const dir = `${DRILL_DIR}/${id}`;
  const r = await s.exec(`touch ${dir}/stop; sleep 0.3; cat ${dir}/log 2>/dev/null; true`, {
    step: "stop the drill watcher",
  });
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => l.replace(/^\S+ /, ""));
}
