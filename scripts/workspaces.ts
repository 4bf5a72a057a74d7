import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The workspace packages under `groups` (folders of `pnpm-workspace.yaml`'s globs), each with its
 * parsed package.json, in name order of their folders. Shared by the release check and build:deploy.
 */
export function workspaceManifests<M>(root: string, groups: readonly string[] = ["apps", "packages"]) {
  const found: { dir: string; manifest: M }[] = [];
  for (const group of groups) {
    for (const name of readdirSync(join(root, group)).sort()) {
      const file = join(root, group, name, "package.json");
      if (!existsSync(file)) continue;
      found.push({ dir: join(root, group, name), manifest: JSON.parse(readFileSync(file, "utf8")) as M });
    }
  }
  return found;
}
