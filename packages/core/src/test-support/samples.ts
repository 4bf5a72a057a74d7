import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The sample Engage bodies kept in packages/testkit/samples (read by path: testkit depends on core). */
export const SAMPLES_DIR = fileURLToPath(new URL("../../../testkit/samples/", import.meta.url));
export const SAMPLE_PAYLOAD_KEY = "DaqfT7Ys6tGqM3zbesEKpmacTJEqBCp2";

export function readSample(file: string): string {
  return readFileSync(`${SAMPLES_DIR}${file}`, "utf8");
}

export function sampleFiles(): string[] {
  return readdirSync(SAMPLES_DIR).filter((f) => f.endsWith(".json"));
}
