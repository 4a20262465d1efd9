// Every JSON document a board parses whole in RAM goes through one nesting rule (ota.jscan.nesting):
// a fleet or rollout document of a few KB of "[" is refused with bad_manifest before json.loads
// builds its levels, as latest.json through http.read_all is; a document nested within the rule parses.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fx from './support/release-fixture';

const cleanups: string[] = [];
after(() => fx.cleanup(...cleanups));

const CODE = `from ota import fleetdoc
from ota.log import Fail
def code(data):
    try:
        d, ts = fleetdoc.rollout_doc({}, data)
        return "ok " + d["version"]
    except Fail as e:
        return e.code
    except MemoryError:
        return "memory"
print("DEEP", code(b"[" * 6000 + b"]" * 6000))
print("DEEPOBJ", code(b'{"a":' * 3000 + b"1" + b"}" * 3000))
print("STRING", code(b'{"version": "' + b"[" * 200 + b'", "ts": 1}'))
print("LIST", code(b"[1]"))
print("FINE", code(b'{"version": "1.2.0", "ts": 5, "x": ' + b"[" * 30 + b"]" * 30 + b"}"))
`;

test('fleet rollout documents: nesting beyond the one rule is bad_manifest, not a heap full of levels', async () => {
  const board = fx.makeBoard({ source: 'static', url: 'http://127.0.0.1:9' }, fx.APP_1_0_0, '1.0.0');
  cleanups.push(board);
  const r = await fx.runBoard({ fsDir: board, code: CODE, boot: false });
  assert.equal(r.error, undefined, r.output);
  const line = (k: string): string => new RegExp(`^${k} (.*)$`, 'm').exec(r.output)?.[1]?.trim() ?? '';
  assert.equal(line('DEEP'), 'bad_manifest', r.output);
  assert.equal(line('DEEPOBJ'), 'bad_manifest', r.output);
  assert.equal(line('STRING'), 'ok ' + '['.repeat(200), r.output);
  assert.equal(line('LIST'), 'bad_document', r.output);
  assert.equal(line('FINE'), 'ok 1.2.0', r.output);
});
