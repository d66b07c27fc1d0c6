/** What a runtime-specific build step reports back to buildPackage. */
export interface RuntimeBuild {
  /** Package-relative path of the file the runtime loads (`src/app.mjs`, `app.py`, `bootstrap`). */
  entry: string | null;
  /** True when the entry was produced by bundling (TypeScript). */
  bundled: boolean;
  warnings: string[];
}
