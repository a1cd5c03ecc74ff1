/**
 * The managed block g8os keeps in a user's authorized_keys. Keys outside the block belong to
 * someone else and are never touched; the block is replaced as a whole, so a key removed from the
 * group disappears on the next `up`.
 *
 * Pure functions (unit-tested); plain module, inlined into the serialized provider.
 */

function markers(block: string): { begin: string; end: string } {
  return {
    begin: `# >>> g8os ${block} (managed by g8os: edits inside this block are overwritten)`,
    end: `# <<< g8os ${block}`,
  };
}

/** Returns the file content with the block set to `keys` (block removed when `keys` is empty). */
export function setManagedBlock(content: string, block: string, keys: readonly string[]): string {
  const { begin, end } = markers(block);
  const lines = content.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const kept: string[] = [];
  let inside = false;
  let insertAt = -1;
  for (const line of lines) {
    if (line === begin) {
      inside = true;
      insertAt = kept.length;
      continue;
    }
    if (inside) {
      if (line === end) inside = false;
      continue;
    }
    kept.push(line);
  }
  const blockLines = keys.length > 0 ? [begin, ...keys.map((k) => k.trim()), end] : [];
  if (insertAt < 0) insertAt = kept.length;
  kept.splice(insertAt, 0, ...blockLines);
  return kept.length > 0 ? kept.join("\n") + "\n" : "";
}

/** The keys currently inside the block, or undefined when the block is absent. */
export function readManagedBlock(content: string, block: string): string[] | undefined {
  const { begin, end } = markers(block);
  const lines = content.split("\n");
  const i = lines.indexOf(begin);
  if (i < 0) return undefined;
  const j = lines.indexOf(end, i + 1);
  return lines.slice(i + 1, j < 0 ? undefined : j).filter((l) => l.trim() !== "");
}
