// The README's reference and the walkthrough name only what exists, and the README names all of
// it: every `ota` command, every VS Code command (by its palette title) and every setting. A new
// command or setting without its README row fails here; so does a walkthrough step naming a
// command or setting that was renamed. Every option the README gives an `ota` command is in that
// command's --help, and every option a --help lists is one its parser accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const REPO = join(__dirname, '..');
const readme = readFileSync(join(REPO, 'README.md'), 'utf8');

interface Contributes {
  commands: { command: string; title: string }[];
  configuration: { properties: Record<string, unknown> } | { properties: Record<string, unknown> }[];
  walkthroughs: {
    steps: { id: string; description: string; media: { markdown?: string }; completionEvents?: string[] }[];
  }[];
  viewsWelcome: { view: string; contents: string }[];
}
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { contributes: Contributes };
const { commands, walkthroughs, viewsWelcome } = pkg.contributes;
const settings = [pkg.contributes.configuration].flat().flatMap((c) => Object.keys(c.properties));
const titles = new Set(commands.map((c) => c.title));
const ids = new Set(commands.map((c) => c.command));

/** The README section under `heading` (to the next heading of the same or a higher level). */
function section(heading: string): string {
  const at = readme.indexOf(`\n${heading}\n`);
  assert.ok(at >= 0, `README has "${heading}"`);
  const level = /^#+/.exec(heading)![0].length;
  const rest = readme.slice(at + heading.length + 2);
  const next = new RegExp(`^#{1,${level}} `, 'm').exec(rest);
  return next ? rest.slice(0, next.index) : rest;
}

/** The first column of a section's table, each cell split at " / " (rows that name several). */
function firstColumn(text: string): Set<string> {
  const cells = [...text.matchAll(/^\| ([^|]+?) +\|/gm)].map((m) => m[1]!.trim());
  return new Set(cells.filter((c) => !/^-+$/.test(c)).flatMap((c) => c.split(' / ')));
}

test('the README lists every `ota` command that `ota --help` lists', () => {
  const help = spawnSync(process.execPath, [join(REPO, 'dist/cli.js'), '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  const listed = [...help.stdout.matchAll(/^ {2}([a-z]+) {2,}\S/gm)].map((m) => m[1]!);
  assert.ok(listed.length >= 15, help.stdout);
  const rows = firstColumn(section('### `ota` commands'));
  assert.deepEqual(
    listed.filter((name) => !rows.has(`\`ota ${name}\``)),
    [],
    'commands without a row',
  );
  assert.deepEqual(
    [...rows].filter((r) => r !== 'command' && !listed.includes(r.replace(/^`ota (\w+)`$/, '$1'))),
    [],
    'rows for commands that do not exist',
  );
});

test('the README lists every VS Code command by its palette title, and no other', () => {
  const rows = firstColumn(section('### VS Code commands'));
  assert.deepEqual(
    commands.filter((c) => !rows.has(c.title)).map((c) => `${c.command} (${c.title})`),
    [],
    'commands without a row',
  );
  assert.deepEqual(
    [...rows].filter((r) => r !== 'command' && !titles.has(r)),
    [],
    'rows naming no command',
  );
});

test('the README lists every setting, and no other', () => {
  const rows = [...firstColumn(section('### Settings'))].filter((r) => r !== 'setting');
  const named = rows.map((r) => r.replace(/^`(.*)`$/, '$1'));
  assert.deepEqual(
    settings.filter((s) => !named.includes(s)),
    [],
    'settings without a row',
  );
  assert.deepEqual(
    named.filter((s) => !settings.includes(s)),
    [],
    'rows naming no setting',
  );
});

test('the walkthrough and the welcome views name only commands, titles and settings that exist', () => {
  const texts: [where: string, text: string][] = [
    ...viewsWelcome.map((v) => [`viewsWelcome ${v.view}`, v.contents] as [string, string]),
  ];
  for (const w of walkthroughs)
    for (const step of w.steps) {
      texts.push([`step ${step.id}`, step.description]);
      const md = step.media.markdown;
      assert.ok(md && existsSync(join(REPO, md)), `step ${step.id}: ${md} exists`);
      texts.push([md, readFileSync(join(REPO, md), 'utf8')]);
      for (const ev of step.completionEvents ?? [])
        for (const ctx of ev.matchAll(/ota\.done\.(\w+)/g)) {
          assert.ok(ids.has(`ota.${ctx[1]}`), `step ${step.id}: ${ctx[0]} is set by a command`);
          // Each way to tick the step is a button on it: a user with a real board picks its port.
          assert.ok(
            step.description.includes(`(command:ota.${ctx[1]})`),
            `step ${step.id}: ticked by ota.${ctx[1]}, which its text offers no button for`,
          );
        }
    }
  const mds = readdirSync(join(REPO, 'media/walkthrough')).map((f) => `media/walkthrough/${f}`);
  assert.deepEqual(
    mds.filter((f) => !texts.some(([where]) => where === f)),
    [],
    'walkthrough pages no step shows',
  );
  for (const [where, text] of texts) {
    for (const m of text.matchAll(/\(command:(ota\.[\w.]+)/g))
      assert.ok(ids.has(m[1]!), `${where}: command:${m[1]} is contributed`);
    // "[Start Virtual Board](command:ota.startVirtualBoard)": the link text is that command's title.
    for (const m of text.matchAll(/\[([^\]]+)\]\(command:(ota\.[\w.]+)\)/g)) {
      const title = commands.find((c) => c.command === m[2])?.title ?? '';
      assert.equal(title.replace(/…$/, ''), m[1], `${where}: link text of ${m[2]}`);
    }
    for (const m of text.matchAll(/\*\*MicroPython OTA: ([^*]+)\*\*/g)) {
      const title = m[1]!.replace(/\s+/g, ' ');
      assert.ok(titles.has(title), `${where}: "MicroPython OTA: ${title}" is a command title`);
    }
    for (const m of text.matchAll(/`(ota\.[a-zA-Z]+(?:\.[a-zA-Z]+)*)`/g))
      assert.ok(settings.includes(m[1]!), `${where}: ${m[1]} is a setting`);
  }
});

test('every bold command name in the README is a palette title', () => {
  for (const m of readme.matchAll(/\*\*MicroPython OTA: ([^*]+)\*\*|_MicroPython OTA: ([^_]+)_/g)) {
    const title = (m[1] ?? m[2])!.replace(/\s+/g, ' ');
    assert.ok(titles.has(title), `README names "MicroPython OTA: ${title}", which is no command title`);
  }
});

test('every picture and file the README links to exists, and every #anchor is one of its headings', () => {
  const anchors = new Set(
    [...readme.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
      m[1]!
        .trim()
        .toLowerCase()
        .replace(/[^a-z0-9 -]/g, '')
        .replace(/ /g, '-'),
    ),
  );
  const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^[a-z]+:/.test(l));
  assert.ok(
    links.some((l) => l.endsWith('.png')),
    'the README shows screenshots',
  );
  for (const link of links) {
    if (link.startsWith('#')) assert.ok(anchors.has(link.slice(1)), `README anchor ${link}`);
    else assert.ok(existsSync(join(REPO, link.split('#')[0]!)), `README links ${link}`);
  }
  assert.ok(anchors.has('threat-model'), 'the README has a threat model');
});

/** `ota <command> --help`, by command (the built CLI, as a user runs it). */
const helps = new Map<string, string>();
function helpOf(command: string): string {
  if (!helps.has(command)) {
    const r = spawnSync(process.execPath, [join(REPO, 'dist/cli.js'), command, '--help'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `ota ${command} --help: ${r.stderr}`);
    helps.set(command, r.stdout);
  }
  return helps.get(command)!;
}

/** The commands `ota --help` lists. */
function cliCommands(): string[] {
  const r = spawnSync(process.execPath, [join(REPO, 'dist/cli.js'), '--help'], { encoding: 'utf8' });
  return [...r.stdout.matchAll(/^ {2}([a-z]+) {2,}\S/gm)].map((m) => m[1]!);
}

test("every option the README writes after `ota <command>` is one that command's --help lists", () => {
  const names = cliCommands();
  const wrong: string[] = [];
  // An `ota <command> …` run up to the end of its code span or line (a comment after # is prose).
  for (const m of readme.matchAll(/\bota ([a-z]+)((?: [^`\n#]*)?)/g)) {
    const [, command, rest] = m;
    if (!names.includes(command!)) continue;
    for (const o of rest!.matchAll(/(?:^|[\s[(|])(--[a-z][a-z0-9-]*)/g))
      if (!new RegExp(`(^|[\\s[|(])${o[1]}(?![a-z0-9-])`).test(helpOf(command!)))
        wrong.push(`ota ${command} ${o[1]}  (README: "${m[0].trim().slice(0, 80)}")`);
  }
  assert.deepEqual(
    [...new Set(wrong)],
    [],
    'options the README gives a command that its --help does not list',
  );
});

test("every option a command's --help lists is one the command accepts", async () => {
  const run = promisify(execFile);
  const asked: [command: string, opt: string][] = [];
  for (const command of cliCommands()) {
    // Its own options: all of a usage line's, and the first of an option line ("  --port <path>
    // … (ota info --list)" names another command's option after its own).
    for (const line of helpOf(command).split('\n')) {
      const opts = /^\s*(usage:\s+)?ota /.test(line)
        ? [...line.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((x) => x[1]!)
        : [/^\s+--([a-z][a-z0-9-]*)/.exec(line)?.[1]].filter((o) => o !== undefined);
      for (const opt of opts)
        if (opt !== 'help' && !asked.some(([c, o]) => c === command && o === opt)) asked.push([command, opt]);
    }
  }
  assert.ok(asked.length > 80, `only ${asked.length} options found: has the help layout changed?`);
  const refused: string[] = [];
  // A few at a time (each is a node process). `--opt x --help`: a string option takes x, a boolean
  // one leaves it as an argument; either way only an option the parser lacks is "unknown option".
  for (let i = 0; i < asked.length; i += 6)
    await Promise.all(
      asked.slice(i, i + 6).map(async ([command, opt]) => {
        const r = await run(process.execPath, [
          join(REPO, 'dist/cli.js'),
          command,
          `--${opt}`,
          'x',
          '--help',
        ]).catch((err: { stderr: string }) => err);
        if (/unknown option/.test(r.stderr)) refused.push(`ota ${command} --${opt}`);
      }),
    );
  assert.deepEqual(refused.sort(), [], 'options a --help lists that the command refuses as unknown');
});
