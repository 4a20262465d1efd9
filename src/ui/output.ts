// The "MicroPython OTA" output channel, a LogOutputChannel: the user picks the level (Output view,
// gear menu). Board events are rendered for people (src/core/event-text.ts) at info, their raw
// JSON at trace; console text from the board at info, blank lines dropped; every secret masked and
// every control character escaped.
import * as vscode from 'vscode';
import type { OtaEvent } from '../core/events';
import { eventRenderer, shortPortName, type LogLevel } from '../core/event-text';
import { printable } from '../core/printable';
import { Redactor } from './redact';

export class OtaOutput implements vscode.Disposable {
  readonly channel: vscode.LogOutputChannel;
  /** Everything logged at info and above, for the end-to-end test to read back (bounded). */
  private readonly recent: string[] = [];
  private readonly renderers = new Map<string, (ev: OtaEvent) => { level: LogLevel; text: string }>();

  constructor(readonly redactor: Redactor) {
    this.channel = vscode.window.createOutputChannel('MicroPython OTA', { log: true });
  }

  info(message: string): void {
    this.write('info', message);
  }

  warn(message: string): void {
    this.write('warn', message);
  }

  error(message: string): void {
    this.write('error', message);
  }

  /** One console line from a board (blank lines are noise in a log). */
  board(port: string, line: string): void {
    if (line.trim()) this.write('info', `[${shortPortName(port)}] ${line.trimEnd()}`);
  }

  /** One `OTA:` event from a board: a sentence at its level, the JSON at trace. */
  event(port: string, ev: OtaEvent): void {
    let render = this.renderers.get(port);
    if (!render || ev.ev === 'check') {
      render = eventRenderer();
      this.renderers.set(port, render);
    }
    const { level, text } = render(ev);
    this.write(level, `[${shortPortName(port)}] ${text}`);
    this.write('trace', `[${shortPortName(port)}] OTA:${JSON.stringify(ev)}`);
  }

  lines(): readonly string[] {
    return this.recent;
  }

  private write(level: LogLevel, line: string): void {
    // A board's or server's text shown, never obeyed (src/core/printable.ts); secrets masked.
    const safe = this.redactor.redact(printable(line));
    if (level !== 'trace' && level !== 'debug') {
      this.recent.push(`${level} ${safe}`);
      if (this.recent.length > 2000) this.recent.splice(0, this.recent.length - 2000);
    }
    this.channel[level](safe);
  }

  dispose(): void {
    this.channel.dispose();
  }
}
