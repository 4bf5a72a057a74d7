// TypeDoc 0.28 reads sources through the JavaScript compiler API of its peer `typescript` (5.0–6.0).
// TypeScript 7, which the repo builds and type-checks with, is the native compiler and has no such API,
// and pnpm resolves a peer from the root (7.0.2) whatever `overrides`/`packageExtensions` say. So TypeDoc
// alone gets TypeScript 6.0 as its own dependency; nothing else sees it. Drop this when a TypeDoc
// release supports TypeScript 7.
module.exports = {
  hooks: {
    readPackage(pkg) {
      if (pkg.name === "typedoc" && pkg.peerDependencies?.typescript) {
        delete pkg.peerDependencies.typescript;
        pkg.dependencies = { ...pkg.dependencies, typescript: "~6.0.3" };
      }
      return pkg;
    },
  },
};
