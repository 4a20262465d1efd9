// Where a board reaches this computer: a loopback URL is the board itself on real hardware, and
// this computer only for the virtual board, which shares its network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lanAddress, listenPlan, loopbackForBoard } from '../src/core/local-host';

const CLI_SERVE = 'serve with ota serve <folder> --host 0.0.0.0';

test('a loopback release host on a real board is the board itself: said, with the address to use', () => {
  for (const url of ['http://127.0.0.1:8080', 'http://localhost:8080/site', 'http://[::1]:8080']) {
    const said = loopbackForBoard(url, 'esp32', CLI_SERVE);
    assert.ok(said, url);
    assert.ok(
      said.startsWith(`${url} is the board itself on an esp32 board, not this computer: write `),
      said,
    );
    assert.ok(
      said.includes(lanAddress() ? `http://${lanAddress()}:8080` : "this computer's LAN address"),
      said,
    );
    assert.match(said, /ota serve <folder> --host 0\.0\.0\.0$/);
    // The virtual board shares this computer's network: 127.0.0.1 is right for it.
    assert.equal(loopbackForBoard(url, 'webassembly', CLI_SERVE), undefined, url);
  }
  for (const url of ['http://192.168.1.20:8080', 'https://releases.example.com', 'not a url', undefined, 42])
    assert.equal(loopbackForBoard(url, 'rp2', CLI_SERVE), undefined, String(url));
  assert.deepEqual(listenPlan('http://127.0.0.1:8123'), { host: '127.0.0.1', port: 8123 });
  // A host name that only starts like a loopback address is another machine.
  assert.equal(loopbackForBoard('http://127.example.com:8080', 'esp32', CLI_SERVE), undefined);
});
