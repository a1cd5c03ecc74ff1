/**
 * The resource kit's Pulumi side: the derived `Args` type and the base `Resource` class. This is
 * the only kit file that imports `@pulumi/*`; provider methods import `./resource-kit` instead, so
 * the serialized provider never captures Pulumi. Declaring fields: see `./resource-kit.ts`.
 */
import * as pulumi from "@pulumi/pulumi";
import type { FieldValue, Fields, ResourceKit } from "./resource-kit";

/** Wraps a value type as a Pulumi input, arrays and plain objects element-wise (like hand-written Args). */
export type DeepInput<T> = T extends string | number | boolean | null | undefined
  ? T
  : T extends readonly (infer E)[]
    ? pulumi.Input<DeepInput<E>>[]
    : T extends object
      ? { [K in keyof T]: pulumi.Input<DeepInput<T[K]>> }
      : T;

/**
 * The resource's `Args`, derived from its fields: required fields required, the others optional,
 * each a `pulumi.Input`. Property doc comments are those of the field declarations.
 */
export type KitArgs<F extends Fields> = {
  [K in keyof F as F[K] extends { required: true } ? K : never]: pulumi.Input<DeepInput<FieldValue<F[K]>>>;
} & {
  [K in keyof F as F[K] extends { required: true } ? never : K]?: pulumi.Input<DeepInput<FieldValue<F[K]>>>;
};

/**
 * The props and options the base class passes on: each declared output missing from `props` is
 * seeded as undefined (so it exists on the resource), secret fields that are set are wrapped with
 * pulumi.secret, and the caller's additionalSecretOutputs are kept, followed by the declared secret
 * names. A new props object every call (the Resource constructor adds `__provider` to it).
 */
export function kitResourceArgs<F extends Fields>(
  kit: ResourceKit<F>,
  props: Record<string, unknown>,
  opts?: pulumi.CustomResourceOptions,
): { props: Record<string, unknown>; opts: pulumi.CustomResourceOptions } {
  const out: Record<string, unknown> = {};
  for (const o of kit.decl.outputs ?? []) if (!(o in props)) out[o] = undefined;
  Object.assign(out, props);
  for (const [n, f] of Object.entries(kit.decl.fields)) {
    if (f.secret && out[n] !== undefined) out[n] = pulumi.secret(out[n] as pulumi.Input<unknown>);
  }
  const secrets = [...(opts?.additionalSecretOutputs ?? [])];
  for (const s of kit.secretNames()) if (!secrets.includes(s)) secrets.push(s);
  return { props: out, opts: { ...opts, additionalSecretOutputs: secrets } };
}

/**
 * Base class of kit resources. Subclasses declare their typed outputs (`declare readonly x:
 * pulumi.Output<T>`), do constructor-only work (defaults from the resource name, early errors) and
 * call `super(kit, provider, name, props, opts)`. The type token is the declaration's unchanged
 * `module`/`type`.
 */
export class KitResource extends pulumi.dynamic.Resource {
  constructor(
    kit: ResourceKit<Fields>,
    provider: pulumi.dynamic.ResourceProvider,
    name: string,
    props: Record<string, unknown>,
    opts?: pulumi.CustomResourceOptions,
  ) {
    const a = kitResourceArgs(kit, props, opts);
    super(provider, name, a.props, a.opts, kit.decl.module, kit.decl.type);
  }
}
