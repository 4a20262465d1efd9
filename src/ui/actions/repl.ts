// "Open REPL": the board's MicroPython prompt in VS Code's terminal panel, a Pseudoterminal over the
// extension's own connection to the port (src/ui/connections.ts), so commands and the Devices view
// keep working: the terminal pauses while a command uses the board and resumes after.
import * as vscode from 'vscode';
import { shortPortName } from '../../core/event-text';
import type { Controller } from '../controller';

const CTRL_C = '\x03';

/** What the command returns: the terminal, and what it has shown so far (for tests). */
export interface ReplHandle {
  terminal: vscode.Terminal;
  shown(): string;
}

export async function openRepl(ctl: Controller, arg?: unknown): Promise<ReplHandle> {
  const port = await ctl.board(arg);
  const writer = new vscode.EventEmitter<string>();
  let shown = '';
  const show = (text: string) => {
    shown = (shown + text).slice(-20_000);
    writer.fire(text);
  };
  const handle = { shown: () => shown } as ReplHandle;
  let session: Awaited<ReturnType<Controller['connections']['attach']>> | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    const pty: vscode.Pseudoterminal = {
      onDidWrite: writer.event,
      open: () => {
        show(
          `\x1b[2mMicroPython REPL on ${port}. Ctrl-C interrupts the program; close the terminal to let go of the port.\x1b[0m\r\n`,
        );
        ctl.connections
          .attach(port, {
            data: show,
            note: (text) => show(`\r\n\x1b[2m[${text}]\x1b[0m\r\n`),
          })
          .then(async (s) => {
            session = s;
            // Ctrl-C stops a running program and brings the prompt up.
            await s.write(CTRL_C);
            resolve();
          }, reject);
      },
      close: () => void session?.detach(),
      handleInput: (data) => void session?.write(data),
    };
    const terminal = vscode.window.createTerminal({
      name: `MicroPython ${shortPortName(port)}`,
      pty,
      iconPath: new vscode.ThemeIcon('terminal'),
    });
    terminal.show();
    handle.terminal = terminal;
  });
  await ready;
  return handle;
}
