import { Presets, SingleBar } from 'cli-progress';
import type { SeedProgress } from '../synthetic/seed';

export interface ProgressReporter {
  update(p: SeedProgress): void;
  stop(): void;
}

/** A progress bar on a terminal; a line per step otherwise (CI logs, pipes). */
export function seedProgressReporter(out: NodeJS.WriteStream): ProgressReporter {
  if (!out.isTTY) {
    return {
      update(p) {
        if (p.phase === 'upload') out.write(`  uploaded batch ${p.batchesUploaded}/${p.batches} (${p.usersUploaded.toLocaleString('en-US')} users)\n`);
        if (p.phase === 'ingest') out.write(`  ingested batch ${p.batchesIngested}/${p.batches}\n`);
      },
      stop() {},
    };
  }
  const bar = new SingleBar({ format: '  {step} |{bar}| {value}/{total}', stream: out, hideCursor: true, clearOnComplete: true }, Presets.shades_classic);
  let started = false;
  return {
    update(p) {
      if (!started) {
        // Each batch is counted twice: once uploaded, once ingested.
        bar.start(p.batches * 2, 0, { step: 'seeding' });
        started = true;
      }
      bar.update(p.batchesUploaded + p.batchesIngested, { step: p.phase === 'ingest' ? 'ingesting' : 'uploading' });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
