// The Devices view's model (src/ui/boards.ts: the ports the tree shows as board nodes, and each one's
// facts) when a native-USB board resets and comes back under another port name: the node moves to the
// new name, matched by USB serial number, with its facts and the selection; the old name is gone. The
// real virtual board on its in-process link, listed by the same port listing the extension uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openBoard } from '../src/core/serial/board';
import { listBoards } from '../src/core/serial/discover';
import { BoardRegistry, type BoardProbe } from '../src/ui/boards';
import { startBoard } from './serial-board';

/** What src/ui/board-probe.ts does, without the editor: listing, and one board's facts. */
const probe: BoardProbe = {
  list: async () =>
    (await listBoards()).filter((b) => b.likely).map((b) => ({ path: b.path, serialNumber: b.serialNumber })),
  read: async (port) => {
    const b = await openBoard(port);
    try {
      const facts = await b.info();
      return { board: facts.machine || facts.platform, micropython: facts.version };
    } finally {
      await b.close();
    }
  },
};

async function resetAndFollow(reg: BoardRegistry, path: string): Promise<string> {
  let to: string | undefined;
  const moved = reg.onDidRename((from, now) => void (from === path && (to = now)));
  try {
    const b = await openBoard(path);
    await b.exec('import machine\nmachine.reset()').catch(() => undefined);
    await b.close().catch(() => undefined);
    // The view's poll: re-list until the registry moves this board's node to the name it came back
    // under (matched by its USB serial number; other boards may come and go meanwhile).
    const until = Date.now() + 15_000;
    while (to === undefined && Date.now() < until) {
      await reg.rescan();
      if (to === undefined) await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    moved.dispose();
  }
  if (to === undefined)
    throw new Error(`the board did not come back; the registry shows ${JSON.stringify(reg.ports())}`);
  return to;
}

for (const how of ['listed like a USB board', 'started from the editor (Start Virtual Board)'] as const) {
  test(
    `a board ${how} that re-enumerates under a new name shows the new port, not the old`,
    {
      timeout: 60_000,
    },
    async () => {
      const vb = await startBoard({ usbReset: { downMs: 400, rename: true } });
      const reg = new BoardRegistry(
        () => Promise.resolve(probe),
        () => [],
      );
      try {
        const old = vb.path;
        if (how.startsWith('started')) reg.addVirtual(old, () => Promise.resolve(), vb.board.serialNumber);
        await reg.rescan();
        assert.ok(reg.ports().includes(old));
        await reg.refresh(old);
        reg.selected = old;
        const facts = reg.info(old);
        assert.ok(facts.micropython, JSON.stringify(facts));
        const renames: [string, string][] = [];
        reg.onDidRename((from, to) => renames.push([from, to]));

        const now = await resetAndFollow(reg, old);
        assert.equal(now, vb.path, 'the port the board came back on');
        assert.notEqual(now, old);
        assert.deepEqual(
          reg.ports().filter((p) => p === old || p === now),
          [now],
          'one node, under the new name',
        );
        assert.deepEqual(renames, [[old, now]]);
        assert.equal(reg.selected, now, 'still the selected board');
        assert.equal(reg.info(now).port, now);
        assert.equal(reg.info(now).micropython, facts.micropython, 'its facts came along');
        assert.equal(reg.isVirtual(now), how.startsWith('started'));
        // And it answers there.
        await reg.refresh(now);
        assert.equal(reg.info(now).problem, undefined);
      } finally {
        await reg.dispose();
        await vb.stop();
      }
    },
  );
}
