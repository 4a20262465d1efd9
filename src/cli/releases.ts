// `ota releases`: what a release host offers per channel, as the editor's Releases view shows it
// (the rules are in src/core/release-channels.ts).
import { readOtaConfig } from '../core/config';
import { isErrorCode } from '../core/error-codes';
import { OtaError } from '../core/errors';
import { releaseChannels, type ReleaseQuery } from '../core/release-channels';
import { errorContext, jsonOption, output, parseCommand } from './common';

const help = `usage: ota releases --url <base URL> [--json]
       ota releases --repo <owner/name> [--base-url <url>] [--branch <b>] [--token <t>] [--json]
       ota releases --config <ota_config.json> [--json]

Lists the releases a host offers, per channel (stable, beta, developer), the
one boards get first: a static host's latest.json, or a GitHub repository's
releases and branch tip. --config reads the host from a board configuration.

  --url <base URL>       static host: the folder holding latest.json
  --repo <owner/name>    GitHub repository (token: --token or GITHUB_TOKEN)
  --base-url <url>       GitHub REST API root (default: GITHUB_API_URL, else https://api.github.com)
  --branch <b>           developer channel: the branch followed (default main)
  --config <file>        an ota_config.json: its source, url, repo, api and branch
  --json                 one JSON document: {host, entries: [{channel, version, date, url}]}`;

async function query(values: {
  url?: string;
  repo?: string;
  'base-url'?: string;
  branch?: string;
  token?: string;
  config?: string;
}): Promise<ReleaseQuery> {
  // One host, and only the options it reads: a second one, or a GitHub option with a static host,
  // would be ignored without a word.
  const hosts = (['url', 'repo', 'config'] as const).filter((k) => values[k] !== undefined);
  if (hosts.length > 1) throw new OtaError('bad_option', `--${hosts.join(' and --')}: name one release host`);
  const unread = values.url
    ? (['base-url', 'branch', 'token'] as const)
    : values.config
      ? (['branch'] as const)
      : [];
  for (const k of unread)
    if (values[k] !== undefined)
      throw new OtaError(
        'bad_option',
        `--${k} is for --repo (GitHub)${values.config ? `; with --config, the branch is ${values.config}'s` : ''}`,
      );
  const token = values.token ?? process.env.GITHUB_TOKEN;
  const apiUrl = values['base-url'] ?? process.env.GITHUB_API_URL;
  if (values.url) return { source: 'static', url: values.url };
  if (values.repo) return { source: 'github', repo: values.repo, apiUrl, branch: values.branch, token };
  if (!values.config) throw new OtaError('bad_option', 'ota releases needs --url, --repo or --config');
  const c = await readOtaConfig(values.config);
  if (c.source === 'oci')
    throw new OtaError(
      'bad_option',
      `${values.config} names an OCI registry: ota verify --ref ${String(c.ref)}`,
    );
  return { source: c.source, url: c.url, repo: c.repo, apiUrl: c.api ?? apiUrl, branch: c.branch, token };
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, help, {
    ...jsonOption,
    url: { type: 'string' },
    repo: { type: 'string' },
    'base-url': { type: 'string' },
    branch: { type: 'string' },
    token: { type: 'string' },
    config: { type: 'string' },
  });
  if (!parsed) return 0;
  const q = await query(parsed.values);
  errorContext({
    source: q.source,
    host: q.source === 'static' ? q.url : q.apiUrl || 'https://api.github.com',
  });
  const r = await releaseChannels(q);
  if (r.state === 'not-configured') throw new OtaError('no_config', r.message);
  if (r.state === 'unreachable') throw new OtaError('unreachable', r.message);
  if (r.state === 'error') throw new OtaError(isErrorCode(r.code) ? r.code : 'http_status', r.message);
  output(parsed.values.json, { host: r.host, entries: r.entries }, () => {
    console.log(r.host);
    if (r.entries.length === 0) console.log('  no releases yet');
    for (const e of r.entries) {
      const date = e.date ? `  ${e.date.slice(0, 10)}` : '';
      console.log(`  ${e.channel.padEnd(9)}  ${e.version}${date}${e.url ? `  ${e.url}` : ''}`);
    }
  });
  return 0;
}
