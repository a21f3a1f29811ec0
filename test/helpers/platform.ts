import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startEmbeddedPlatform, type EmbeddedPlatform, type EmbeddedPlatformOptions } from '../../lib/embedded/platform';

/** Starts an embedded platform in a temporary folder for a test file; stops it and removes the folder after. */
export async function startTestPlatform(
  options: Omit<EmbeddedPlatformOptions, 'dataDir'> = {},
): Promise<EmbeddedPlatform & { dataDir: string; dispose(): Promise<void> }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aep-platform-test-'));
  const platform = await startEmbeddedPlatform({ ...options, dataDir });
  return {
    ...platform,
    dataDir,
    async dispose() {
      await platform.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
