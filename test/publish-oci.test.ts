// Publishing to a real OCI registry (Debian's docker-registry on 127.0.0.1, started here) without
// auth, with htpasswd auth and with token auth; what we push read back by Debian's skopeo.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OtaError } from '../src/core/errors';
import { generateKey } from '../src/core/keys';
import { parseManifest } from '../src/core/manifest';
import {
  checkLayers,
  fetchOciRelease,
  listOciTags,
  parseRef,
  publishOci,
  resolveCredentials,
  RELEASE_TYPE,
  type OciPublishOptions,
  type OciPublishProgress,
} from '../src/core/publish/oci';
import { registryMissing, startRegistry, type TestRegistry } from './support/registry';

const skip = registryMissing(['/usr/bin/skopeo', '/usr/bin/htpasswd', '/usr/bin/openssl']);
const T = { skip, timeout: 120_000 };
const created = '2026-11-25T10:00:00Z';
let work: string;
let project: string;
let keyFile: string;
let reg: TestRegistry;

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'ota-puboci-'));
  project = join(work, 'app');
  mkdirSync(join(project, 'lib'), { recursive: true });
  writeFileSync(join(project, 'main.py'), 'import lib.util\nprint("v1")\n');
  writeFileSync(join(project, 'lib', 'util.py'), 'X = 1\n' + '# pad\n'.repeat(500));
  writeFileSync(join(project, 'lib', 'same.py'), 'X = 1\n' + '# pad\n'.repeat(500)); // same bytes: one blob
  keyFile = (await generateKey('ed25519', { path: join(work, 'keys', 'k.json'), project })).path;
  reg = await startRegistry();
});
after(async () => {
  await reg?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

const code = (c: string) => (e: unknown) => e instanceof OtaError && e.code === c;

function options(extra: Partial<OciPublishOptions> = {}): OciPublishOptions {
  return {
    dir: project,
    version: '1.0.0',
    build: { created },
    ref: `${reg.host}/me/app`,
    retryDelayMs: 5,
    ...extra,
  };
}

const MEDIA = 'application/vnd.oci.image.manifest.v1+json';

async function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { headers });
}

interface Layer {
  digest: string;
  annotations: Record<string, string>;
}
interface ArtifactManifest {
  artifactType: string;
  config: { mediaType: string };
  layers: Layer[];
  annotations: Record<string, string>;
}

async function manifestOf(host: string, repo: string, tag: string): Promise<ArtifactManifest> {
  const res = await get(`http://${host}/v2/${repo}/manifests/${tag}`, {
    accept: 'application/vnd.oci.image.manifest.v1+json',
  });
  assert.equal(res.status, 200, `${repo}:${tag}`);
  return (await res.json()) as ArtifactManifest;
}

test('a release is one artifact: titled layers, the empty config, version and stable tags', T, async () => {
  const progress: OciPublishProgress[] = [];
  const r = await publishOci(
    options({ signKeyFile: keyFile, bundle: true, onProgress: (p) => progress.push(p) }),
  );
  assert.equal(r.version, '1.0.0');
  assert.deepEqual(r.pushed[0].tags, ['1.0.0', 'stable']);
  const m = await manifestOf(reg.host, 'me/app', '1.0.0');
  assert.equal(m.artifactType, RELEASE_TYPE);
  assert.equal(m.config.mediaType, 'application/vnd.oci.empty.v1+json');
  assert.equal(m.annotations['org.opencontainers.image.version'], '1.0.0');
  const titles = m.layers.map((l: Layer) => l.annotations['org.opencontainers.image.title']);
  assert.deepEqual(titles, [
    'manifest.json',
    'manifest.json.sig',
    'lib/same.py',
    'lib/util.py',
    'main.py',
    'app-1.0.0.tar.gz',
  ]);
  // Each layer is the file itself: digest = the file's SHA-256, byte-identical when pulled.
  for (const l of m.layers) {
    const title = l.annotations['org.opencontainers.image.title'];
    const body = Buffer.from(await (await get(`${reg.url}/v2/me/app/blobs/${l.digest}`)).arrayBuffer());
    assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, l.digest);
    if (!title.startsWith('manifest') && !title.endsWith('.tar.gz')) {
      assert.deepEqual(body, readFileSync(join(project, title)), title);
    }
  }
  // Two files with the same bytes are one blob, uploaded once.
  assert.equal(r.pushed[0].uploaded, 6, r.pushed[0].sent.join(' ')); // 5 distinct layers + the config
  assert.ok(progress.some((p) => p.phase === 'upload' && p.done > 0));
  const stable = await manifestOf(reg.host, 'me/app', 'stable');
  assert.deepEqual(stable, m);
  const rel = await fetchOciRelease({ ref: `${reg.host}/me/app` });
  assert.equal(parseManifest(rel.manifestBytes).version, '1.0.0');
  assert.ok(rel.signatureBytes);
  assert.deepEqual(rel.boardProblems, []);
  // Beside each tag, the small manifest a board reads: manifest.json as its config, the signature as
  // its layer, the version, then both documents' exact bytes. Nothing per file.
  for (const tag of ['1.0.0.board', 'stable.board']) {
    const res = await get(`${reg.url}/v2/me/app/manifests/${tag}`, { accept: MEDIA });
    assert.equal(res.status, 200, tag);
    const bytes = Buffer.from(await res.arrayBuffer());
    const b = JSON.parse(bytes.toString()) as {
      config: { mediaType: string; digest: string; size: number };
      layers: { mediaType: string; digest: string }[];
      version: string;
      annotations?: unknown;
    };
    const man = m.layers[0];
    assert.deepEqual(b.config, {
      mediaType: 'application/vnd.micropython-ota.manifest.v1+json',
      digest: man.digest,
      size: rel.manifestBytes.length,
    });
    assert.equal(b.layers.length, 1);
    assert.equal(b.layers[0].digest, m.layers[1].digest);
    assert.equal(b.version, '1.0.0');
    assert.equal(b.annotations, undefined);
    const tail = Buffer.concat([
      Buffer.from(',"sig":'),
      rel.signatureBytes,
      Buffer.from(',"manifest":'),
      rel.manifestBytes,
      Buffer.from('}'),
    ]);
    assert.ok(bytes.subarray(bytes.length - tail.length).equals(tail), 'the documents verbatim, last');
    const envelope = bytes.length - tail.length;
    assert.ok(envelope < 440, `the envelope is ${envelope} B`);
  }
});

test('a one-file change uploads that file and the manifest (and its signature) only', T, async () => {
  writeFileSync(join(project, 'main.py'), 'import lib.util\nprint("v1.0.1")\n');
  const r = await publishOci(options({ version: '1.0.1', signKeyFile: keyFile }));
  assert.deepEqual(r.pushed[0].sent.sort(), ['main.py', 'manifest.json', 'manifest.json.sig']);
  assert.equal(
    (await manifestOf(reg.host, 'me/app', 'stable')).annotations['org.opencontainers.image.version'],
    '1.0.1',
  );
});

test('an existing version is refused without --force, replaced with it', T, async () => {
  writeFileSync(join(project, 'main.py'), 'import lib.util\nprint("v1.0.1 fixed")\n');
  await assert.rejects(publishOci(options({ version: '1.0.1' })), code('tag_exists'));
  const r = await publishOci(options({ version: '1.0.1', force: true }));
  assert.equal(r.pushed[0].replaced, true);
  assert.deepEqual(r.pushed[0].sent.sort(), ['main.py', 'manifest.json']);
});

test('channels: a prerelease moves beta only; an older hotfix leaves stable alone', T, async () => {
  const b = await publishOci(options({ version: '1.1.0-beta.1' }));
  assert.equal(b.prerelease, true);
  assert.deepEqual(b.pushed[0].tags, ['1.1.0-beta.1', 'beta']);
  const h = await publishOci(options({ version: '0.9.5' }));
  assert.deepEqual(h.pushed[0].tags, ['0.9.5']);
  assert.equal(
    (await manifestOf(reg.host, 'me/app', 'stable')).annotations['org.opencontainers.image.version'],
    '1.0.1',
  );
  for (const [tag, v] of [
    ['stable.board', '1.0.1'],
    ['beta.board', '1.1.0-beta.1'],
    ['0.9.5.board', '0.9.5'],
  ]) {
    const b = ((await manifestOf(reg.host, 'me/app', tag)) as unknown as { version: string }).version;
    assert.equal(b, v, `${tag} moves with its tag`);
  }
  // The .board partners are not releases of their own: the list leaves them out.
  const tags = await listOciTags({ ref: `${reg.host}/me/app` });
  assert.deepEqual(
    tags.map((t) => [t.tag, t.channel ?? '', t.points ?? '']),
    [
      ['1.1.0-beta.1', 'beta', ''],
      ['1.0.1', 'stable', ''],
      ['1.0.0', '', ''],
      ['0.9.5', '', ''],
      ['beta', '', '1.1.0-beta.1'],
      ['stable', '', '1.0.1'],
    ],
  );
});

test('ota verify sees a .board partner that disagrees with its artifact', T, async () => {
  await publishOci(options({ ref: `${reg.host}/me/drift`, version: '2.0.0' }));
  const res = await get(`${reg.url}/v2/me/drift/manifests/stable.board`, { accept: MEDIA });
  const doc = (await res.json()) as { version: string };
  doc.version = '2.0.1';
  const put = await fetch(`${reg.url}/v2/me/drift/manifests/stable.board`, {
    method: 'PUT',
    headers: { 'content-type': MEDIA },
    body: JSON.stringify(doc),
  });
  assert.equal(put.status, 201);
  const rel = await fetchOciRelease({ ref: `${reg.host}/me/drift` });
  assert.deepEqual(rel.boardProblems, ['stable.board: version 2.0.1, not 2.0.0']);
  assert.deepEqual(checkLayers(rel, parseManifest(rel.manifestBytes)), rel.boardProblems);
});

test('{device}: one repository per board; the second mounts every blob from the first', T, async () => {
  const r = await publishOci(options({ ref: `${reg.host}/fleet/{device}`, devices: ['board-1', 'board-2'] }));
  assert.equal(r.pushed.length, 2);
  assert.ok(r.pushed[0].uploaded > 0);
  assert.equal(r.pushed[1].uploaded, 0, r.pushed[1].sent.join(' '));
  assert.equal(r.pushed[1].mounted, r.pushed[0].uploaded);
  assert.equal((await manifestOf(reg.host, 'fleet/board-2', 'stable')).artifactType, RELEASE_TYPE);
  await assert.rejects(publishOci(options({ ref: `${reg.host}/fleet/{device}` })), code('bad_ref'));
});

test(
  'skopeo reads what we push: inspect, and copy to an OCI layout with byte-identical layers',
  T,
  async () => {
    const ref = `docker://${reg.host}/me/app:1.0.0`;
    const inspect = spawnSync('skopeo', ['inspect', '--tls-verify=false', '--raw', ref], {
      encoding: 'utf8',
    });
    assert.equal(inspect.status, 0, inspect.stderr);
    assert.equal(JSON.parse(inspect.stdout).artifactType, RELEASE_TYPE);
    const layout = join(work, 'layout');
    const copy = spawnSync('skopeo', ['copy', '--src-tls-verify=false', ref, `oci:${layout}:1.0.0`], {
      encoding: 'utf8',
    });
    assert.equal(copy.status, 0, copy.stderr);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const mdigest = index.manifests[0].digest.replace('sha256:', '');
    const m = JSON.parse(readFileSync(join(layout, 'blobs/sha256', mdigest), 'utf8')) as ArtifactManifest;
    assert.equal(m.artifactType, RELEASE_TYPE);
    const files = m.layers.filter(
      (l: Layer) => !/^manifest|\.tar\.gz$/.test(l.annotations['org.opencontainers.image.title']),
    );
    assert.equal(files.length, 3);
    for (const l of files) {
      const title = l.annotations['org.opencontainers.image.title'];
      const copied = readFileSync(join(layout, 'blobs/sha256', l.digest.replace('sha256:', '')));
      // 1.0.0's main.py is gone from the project: compare with the signed manifest's hash.
      const want = parseManifest(
        (await fetchOciRelease({ ref: `${reg.host}/me/app:1.0.0` })).manifestBytes,
      ).files.find((f) => f.path === title)!;
      assert.equal(createHash('sha256').update(copied).digest('hex'), want.sha256, title);
    }
    // The .board partner, with manifest.json and its signature inline, is an ordinary manifest to
    // skopeo: read and copied (as a mirror would) byte for byte.
    const served = Buffer.from(
      await (await get(`${reg.url}/v2/me/app/manifests/1.0.0.board`, { accept: MEDIA })).arrayBuffer(),
    );
    const boardRef = `docker://${reg.host}/me/app:1.0.0.board`;
    const raw = spawnSync('skopeo', ['inspect', '--tls-verify=false', '--raw', boardRef]);
    assert.equal(raw.status, 0, raw.stderr.toString());
    assert.ok(raw.stdout.equals(served), 'skopeo inspect --raw: the bytes the registry serves');
    const boardCopy = spawnSync(
      'skopeo',
      ['copy', '--src-tls-verify=false', boardRef, `oci:${layout}:board`],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(boardCopy.status, 0, boardCopy.stderr);
    const copiedIndex = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
      manifests: { digest: string; annotations?: Record<string, string> }[];
    };
    const entry = copiedIndex.manifests.find(
      (e) => e.annotations?.['org.opencontainers.image.ref.name'] === 'board',
    );
    assert.ok(entry, JSON.stringify(copiedIndex));
    const copiedBoard = readFileSync(join(layout, 'blobs/sha256', entry.digest.replace('sha256:', '')));
    assert.ok(copiedBoard.equals(served), 'skopeo copy keeps the inline documents byte for byte');
  },
);

test('uploads are retried after a dropped connection and a 503; progress ends at the total', T, async () => {
  writeFileSync(join(project, 'lib', 'retry.py'), 'R = 1\n');
  let dropped = 0;
  let unavailable = 0;
  const flaky: typeof fetch = async (input, init) => {
    const method = init?.method ?? 'GET';
    const url = String(input);
    if (method === 'PUT' && url.includes('/blobs/uploads/') && dropped === 0) {
      dropped++;
      throw new TypeError('fetch failed', { cause: new Error('ECONNRESET') });
    }
    if (method === 'PUT' && url.includes('/blobs/uploads/') && unavailable === 0) {
      unavailable++;
      return new Response('{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}', { status: 503 });
    }
    return fetch(input, init);
  };
  const progress: OciPublishProgress[] = [];
  const r = await publishOci(
    options({ version: '1.0.2', fetch: flaky, concurrency: 1, onProgress: (p) => progress.push(p) }),
  );
  rmSync(join(project, 'lib', 'retry.py'));
  assert.equal(dropped + unavailable, 2);
  assert.deepEqual(r.pushed[0].sent.sort(), ['lib/retry.py', 'manifest.json']);
  const last = progress.filter((p) => p.phase === 'upload').at(-1)!;
  assert.equal(last.done, last.total);
  const blob = await get(
    `${reg.url}/v2/me/app/blobs/${r.layers.find((l) => l.title === 'lib/retry.py')!.digest}`,
  );
  assert.equal(await blob.text(), 'R = 1\n');
});

test('a registry that is down: network error, named', T, async () => {
  await assert.rejects(publishOci(options({ ref: '127.0.0.1:9/me/app', retries: 0 })), code('network'));
});

test('references: bad ones are refused with bad-ref', () => {
  for (const bad of [
    'app',
    'me/app',
    'ghcr.io/Me/App',
    'ghcr.io/me/app@sha256:00',
    'ghcr.io/me/app:bad tag',
    'ghcr.io/',
  ]) {
    assert.throws(() => parseRef(bad), code('bad_ref'), bad);
  }
  assert.deepEqual(parseRef('ghcr.io/me/app:1.0.0'), {
    registry: 'ghcr.io',
    repository: 'me/app',
    tag: '1.0.0',
    plainHttp: false,
  });
  assert.equal(parseRef('localhost:5000/x').plainHttp, true);
  assert.equal(parseRef('docker.io/me/app').registry, 'registry-1.docker.io');
});

test('credentials: flags, OTA_REGISTRY_TOKEN, GITHUB_TOKEN for ghcr.io, docker and podman auth files', async () => {
  const home = mkdtempSync(join(tmpdir(), 'ota-home-'));
  try {
    assert.equal(await resolveCredentials('r.example', { env: {}, home }), undefined);
    assert.equal(
      (await resolveCredentials('r.example', { user: 'u', password: 'p', env: {}, home }))?.from,
      '--user/--password',
    );
    assert.equal(
      (await resolveCredentials('r.example', { env: { OTA_REGISTRY_TOKEN: 't' }, home }))?.password,
      't',
    );
    assert.equal((await resolveCredentials('ghcr.io', { env: { GITHUB_TOKEN: 'g' }, home }))?.password, 'g');
    assert.equal(await resolveCredentials('r.example', { env: { GITHUB_TOKEN: 'g' }, home }), undefined);
    mkdirSync(join(home, '.docker'));
    writeFileSync(
      join(home, '.docker', 'config.json'),
      JSON.stringify({
        auths: { 'https://r.example': { auth: Buffer.from('dock:er:pw').toString('base64') } },
      }),
    );
    const d = await resolveCredentials('r.example', { env: {}, home });
    assert.deepEqual([d?.username, d?.password], ['dock', 'er:pw']);
    mkdirSync(join(home, '.config', 'containers'), { recursive: true });
    writeFileSync(
      join(home, '.config', 'containers', 'auth.json'),
      JSON.stringify({ auths: { 'r.example': { auth: Buffer.from('pod:man').toString('base64') } } }),
    );
    assert.equal((await resolveCredentials('r.example', { env: {}, home }))?.username, 'pod');
    await assert.rejects(resolveCredentials('r.example', { user: 'u', env: {}, home }), code('bad_option'));
    // Docker Desktop's way: no auths entry, a credential helper (here a script on PATH) holds the login.
    const bin = join(home, 'bin');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'docker-credential-fake'),
      '#!/bin/sh\nread server\n[ "$1" = get ] && [ "$server" = helper.example ] && ' +
        'echo \'{"ServerURL":"helper.example","Username":"hu","Secret":"hs"}\' && exit 0\n' +
        'echo "credentials not found in native keychain"; exit 1\n',
      { mode: 0o755 },
    );
    writeFileSync(join(home, '.docker', 'config.json'), JSON.stringify({ auths: {}, credsStore: 'fake' }));
    rmSync(join(home, '.config'), { recursive: true });
    const env = { PATH: `${bin}:${process.env.PATH}` };
    const h = await resolveCredentials('helper.example', { env, home });
    assert.deepEqual([h?.username, h?.password, h?.from], ['hu', 'hs', 'docker-credential-fake']);
    assert.equal(await resolveCredentials('other.example', { env, home }), undefined);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test(
  'htpasswd registry: no credentials, wrong ones, then right ones (from a docker config.json)',
  T,
  async () => {
    const auth = await startRegistry({ auth: 'htpasswd', user: 'ci', password: 'pw-1' });
    const home = mkdtempSync(join(tmpdir(), 'ota-home-'));
    try {
      const ref = `${auth.host}/me/app`;
      await assert.rejects(publishOci(options({ ref })), code('credentials_missing'));
      await assert.rejects(
        publishOci(options({ ref, credentials: { username: 'ci', password: 'nope', from: 'test' } })),
        code('auth_failed'),
      );
      mkdirSync(join(home, '.docker'));
      writeFileSync(
        join(home, '.docker', 'config.json'),
        JSON.stringify({ auths: { [auth.host]: { auth: Buffer.from('ci:pw-1').toString('base64') } } }),
      );
      const credentials = await resolveCredentials(auth.host, { env: {}, home });
      const r = await publishOci(options({ ref, credentials }));
      assert.deepEqual(r.pushed[0].tags, ['1.0.0', 'stable']);
      await assert.rejects(listOciTags({ ref }), code('credentials_missing'));
      assert.deepEqual(
        (await listOciTags({ ref, credentials })).map((t) => t.tag),
        ['1.0.0', 'stable'],
      );
    } finally {
      rmSync(home, { recursive: true, force: true });
      await auth.close();
    }
  },
);

test('token registry: Bearer from the realm for push; anonymous pull of a public repository', T, async () => {
  const tok = await startRegistry({
    auth: 'token',
    user: 'ci',
    password: 'pw-2',
    publicRepos: ['pub/app'],
    reader: { user: 'viewer', password: 'pw-r' },
  });
  try {
    const credentials = { username: 'ci', password: 'pw-2', from: 'test' };
    await assert.rejects(publishOci(options({ ref: `${tok.host}/pub/app` })), code('credentials_missing'));
    await publishOci(options({ ref: `${tok.host}/pub/app`, credentials }));
    await publishOci(options({ ref: `${tok.host}/priv/app`, credentials }));
    assert.ok(
      tok.tokenRequests.some((q) => q.authorized && q.scope.includes('repository:pub/app:pull,push')),
    );
    // Anonymous: a public repository reads, a private one is refused.
    assert.equal((await fetchOciRelease({ ref: `${tok.host}/pub/app` })).version, '1.0.0');
    await assert.rejects(fetchOciRelease({ ref: `${tok.host}/priv/app` }), code('credentials_missing'));
    // A read-only account reads, and is denied a push (insufficient_scope), not told it has no credentials.
    const viewer = { username: 'viewer', password: 'pw-r', from: 'test' };
    assert.equal(
      (await fetchOciRelease({ ref: `${tok.host}/priv/app`, credentials: viewer })).version,
      '1.0.0',
    );
    await assert.rejects(
      publishOci(options({ ref: `${tok.host}/priv/app`, version: '1.0.1', credentials: viewer })),
      code('denied'),
    );
    await assert.rejects(
      publishOci(options({ ref: `${tok.host}/priv/app`, credentials: { ...credentials, password: 'bad' } })),
      code('auth_failed'),
    );
  } finally {
    await tok.close();
  }
});
