/**
 * `--name value` / `--name=value` options of the emulator's command-line entry points (cli.ts,
 * fleet.ts): every option needs a value, an option not in `known` is refused by name.
 */
export function parseOptions(argv: string[], known: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unexpected argument ${argv[i]}`);
    const v = m[2] ?? argv[++i];
    if (v === undefined) throw new Error(`--${m[1]} needs a value`);
    if (!known.includes(m[1])) throw new Error(`unknown option --${m[1]}`);
    out[m[1]] = v;
  }
  return out;
}
