// Opens a board connection for one test and always closes it, whatever the test asserts.
import { openBoard, type BoardConnection } from '../../src/core/serial/board';

export async function onBoard<T>(path: string, fn: (b: BoardConnection) => Promise<T>): Promise<T> {
  const b = await openBoard(path);
  try {
    return await fn(b);
  } finally {
    await b.close();
  }
}
