// The "MicroPython OTA" output channel: the board's console and OTA events, live,
// coloured by syntaxes/ota-log.tmLanguage.json, with every secret masked.
import * as vscode from 'vscode';
import { Redactor } from './redact';

function stamp(): string {
  return new Date().toISOString().slice(11, 19);
}

export class OtaOutput implements vscode.Disposable {
  readonly channel: vscode.OutputChannel;
  /** Everything printed, for the end-to-end test to read back (bounded). */
  private readonly recent: string[] = [];

  constructor(readonly redactor: Redactor) {
    this.channel = vscode.window.createOutputChannel('MicroPython OTA', 'ota-log');
  }

  /** A message from the extension itself. */
  info(message: string): void {
    this.write(`[${stamp()}] [ota] ${message}`);
  }

  /** One console line from a board (free text or an `OTA:{…}` event line). */
  board(port: string, line: string): void {
    this.write(`[${stamp()}] ${port.split('/').pop()} ${line}`);
  }

  error(message: string): void {
    this.write(`[${stamp()}] [ota] Error: ${message}`);
  }

  lines(): readonly string[] {
    return this.recent;
  }

  private write(line: string): void {
    const safe = this.redactor.redact(line);
    this.recent.push(safe);
    if (this.recent.length > 2000) this.recent.splice(0, this.recent.length - 2000);
    this.channel.appendLine(safe);
  }

  dispose(): void {
    this.channel.dispose();
  }
}
