/** What the self-test program builds (passed as the `selftest:spec` config, JSON). */
export interface FileSpec {
  name: string;
  path: string;
  content: string;
  /** Pass the content as a secret input. */
  secret?: boolean;
  /** Name of a file whose `path` output this file's content embeds (a property dependency). */
  after?: string;
  /**
   * Name of a file whose `path` output this file's path is made of (`<that path>.<name>`; `path`
   * is then unused): a property dependency on a replace key.
   */
  pathAfter?: string;
  /** See FileInputs.holdMs (selftest/file-provider.ts). */
  holdMs?: number;
  /** Put the file inside the "group" component. */
  inGroup?: boolean;
  deleteBeforeReplace?: boolean;
  /** The `replaceOnChanges` resource option. */
  replaceOnChanges?: string[];
}

export interface Spec {
  files: FileSpec[];
  password?: { length: number; special?: boolean };
  key?: "ED25519" | "RSA" | "ECDSA";
  /** A local.Command with these create/delete commands. */
  command?: { create: string; delete?: string };
}
