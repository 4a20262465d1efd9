// Install Updater and mip copy what device/package.json lists: a module missing from it is missing
// on every board (an update then fails with ImportError), so the list must be the folder.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const DEVICE = join(__dirname, '../device');

test('device/package.json lists every file of the updater package, and nothing else', () => {
  const listed = (
    JSON.parse(readFileSync(join(DEVICE, 'package.json'), 'utf8')) as { urls: [string, string][] }
  ).urls
    .map(([to]) => to)
    .sort();
  const files = readdirSync(join(DEVICE, 'ota'))
    .filter((f) => f.endsWith('.py'))
    .map((f) => `ota/${f}`)
    .sort();
  assert.deepEqual(listed, files);
});
