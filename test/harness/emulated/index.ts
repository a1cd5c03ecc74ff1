/**
 * Stand-ins for the native providers our stacks use (their plugins cannot be downloaded here):
 * random RandomPassword / RandomId, tls PrivateKey, command local.Command / remote.Command, and
 * explicit provider resources (`pulumi:providers:*`). They produce REAL values under the
 * documented output names, honour the documented inputs and replace/update rules, and declare
 * the outputs the real schemas mark secret.
 */
import type { EngineProvider } from "../provider";
import { LocalCommand, RemoteCommand } from "./command";
import { ProviderResource } from "./provider-resource";
import { RandomId, RandomPassword } from "./random";
import { TlsPrivateKey } from "./tls";

export { changedKeys } from "./base";

const EMULATED: Record<string, EngineProvider> = {
  "random:index/randomPassword:RandomPassword": new RandomPassword(),
  "random:index/randomId:RandomId": new RandomId(),
  "tls:index/privateKey:PrivateKey": new TlsPrivateKey(),
  "command:local:Command": new LocalCommand(),
  "command:remote:Command": new RemoteCommand(),
};

const providerResource = new ProviderResource();

/** The stand-in for a non-dynamic resource type, or undefined when the harness has none. */
export function emulatedProvider(type: string): EngineProvider | undefined {
  if (type.startsWith("pulumi:providers:")) return providerResource;
  return EMULATED[type];
}

export const EMULATED_TYPES = Object.keys(EMULATED);
