// End to end with the project's own host side: `publishFolder` (src/core/publish/folder.ts)
// signs and lays out the release, `serveFolder` (src/core/publish/serve.ts) serves it, and
// the board trusts the key through `deviceTrustEntry` (src/core/keys.ts).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deviceTrustEntry, generateKey } from '../src/core/keys';
import { publishFolder } from '../src/core/publish/folder';
import { serveFolder } from '../src/core/publish/serve';
import * as fx from './support/release-fixture';

const cleanups: string[] = [];
after(() => fx.cleanup(...cleanups));

test(
  'publishFolder + serveFolder + a signed release: the board updates, then finds nothing',
  { timeout: 60_000 },
  async () => {
    const project = fx.tempDir('proj');
    const out = fx.tempDir('out');
    const keys = fx.tempDir('keys');
    cleanups.push(project, out, keys);
    fx.writeTree(project, fx.APP_1_1_0);
    const key = await generateKey('rsa-sha256', { path: join(keys, 'k.json'), project });
    await publishFolder({
      dir: project,
      version: '1.1.0',
      outDir: out,
      signKeyFile: key.path,
      build: { created: '2026-11-01T00:00:00Z', keep: ['settings.json'] },
    });
    const srv = await serveFolder(out);
    const fsDir = fx.makeBoard(
      { source: 'static', url: srv.url, keys: [await deviceTrustEntry(key.path)] },
      fx.APP_1_0_0,
      '1.0.0',
    );
    cleanups.push(fsDir);
    try {
      const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
      assert.deepEqual(fx.errorCodes(r.output), [], r.output);
      assert.equal(JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version, '1.1.0');
      assert.deepEqual(
        fx.hashTree(fsDir, fx.NOT_APP),
        fx.hashFiles({
          ...fx.APP_1_1_0,
          'settings.json': fx.APP_1_0_0['settings.json'],
          'old.py': fx.APP_1_0_0['old.py'],
        }),
      );
      const from = srv.requests.length;
      const r2 = await fx.runBoard({ fsDir, code: 'import ota\nota.confirm()\nprint(ota.update())\n' });
      assert.deepEqual(fx.errorCodes(r2.output), [], r2.output);
      assert.deepEqual(
        srv.requests.slice(from).map((q) => `${q.status} ${q.path}`),
        ['304 /latest.json'],
      );
    } finally {
      await srv.close();
    }
  },
);
