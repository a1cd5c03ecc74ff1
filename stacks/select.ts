/**
 * Which program a stack runs: one Pulumi project, two kinds of stack.
 * `build` / `build-<N>` run the build environment; `grid` / `grid-<N>` run the grid.
 * The environment number comes from `g8os:envNumber`, else from the stack-name suffix.
 *
 * Pure functions (no Pulumi runtime) so the rules are unit-tested directly.
 */

export type StackKind = "build" | "grid";

export interface StackSelection {
  kind: StackKind;
  /** The environment number X of REPO_BUILD_X / REPO_G8OS_GRID_X. */
  envNumber: number;
}

const STACK_NAME = /^(build|grid)(?:-(\d{1,4}))?$/;

/** Thrown for a stack name or number the project does not accept; the message says how to fix it. */
export class StackSelectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StackSelectionError";
  }
}

/**
 * Resolves the stack kind and environment number.
 * @param stackName `pulumi.getStack()`, possibly fully qualified (`org/project/build-3`).
 * @param configuredEnv the raw `g8os:envNumber` value, if set.
 */
export function selectStack(stackName: string, configuredEnv?: string): StackSelection {
  const short = stackName.split("/").pop() ?? stackName;
  const m = STACK_NAME.exec(short);
  if (!m) {
    throw new StackSelectionError(
      `stack "${stackName}" is not a g8os stack. Accepted names: build, build-<N>, grid, grid-<N> ` +
        `(N = environment number, e.g. build-1). Create one with \`pulumi stack init build-1\`.`,
    );
  }
  const kind = m[1] as StackKind;
  const fromName = m[2] !== undefined ? Number(m[2]) : undefined;
  let fromConfig: number | undefined;
  if (configuredEnv !== undefined && configuredEnv !== "") {
    if (!/^\d{1,4}$/.test(configuredEnv.trim())) {
      throw new StackSelectionError(
        `g8os:envNumber is "${configuredEnv}", which is not a whole number from 0 to 9999. ` +
          "Fix: `pulumi config set g8os:envNumber 1`.",
      );
    }
    fromConfig = Number(configuredEnv.trim());
  }
  if (fromName !== undefined && fromConfig !== undefined && fromName !== fromConfig) {
    throw new StackSelectionError(
      `stack "${short}" names environment ${fromName} but g8os:envNumber is ${fromConfig}. ` +
        "Fix: remove g8os:envNumber (`pulumi config rm g8os:envNumber`) or make the two agree.",
    );
  }
  const envNumber = fromConfig ?? fromName;
  if (envNumber === undefined) {
    throw new StackSelectionError(
      `stack "${short}" has no environment number. Fix: \`pulumi config set g8os:envNumber <N>\`, ` +
        `or name the stack ${kind}-<N>.`,
    );
  }
  return { kind, envNumber };
}
