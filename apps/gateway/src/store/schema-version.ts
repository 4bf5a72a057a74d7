/**
 * Refuses a store that a newer engage-bridge has migrated. This version would read and write tables
 * whose meaning it does not know (a rollback after an upgrade): the operator must run the newer
 * version, or restore the backup taken before the upgrade (docs/deploy.md, "Upgrades").
 */
export function assertKnownSchema(
  applied: number | null | undefined,
  known: readonly { version: number }[],
): void {
  const newest = Math.max(0, ...known.map((m) => m.version));
  if (applied !== null && applied !== undefined && applied > newest) {
    throw new Error(
      `the store's schema is at version ${applied}, newer than this engage-bridge knows (${newest}): ` +
        "a newer version has upgraded it. Run that version, or restore the backup taken before the upgrade",
    );
  }
}
