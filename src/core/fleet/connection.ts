/**
 * The host's connection to the fleet's broker (any MQTT 3.1.1 broker) through the `mqtt` package:
 * everything under ota/<fleet>/ feeds a FleetModel; commands go out signed.
 *
 *   connectFleet({ url, fleet, user?, password?, ca?, clientId?, onWarning? }) -> Promise<FleetConnection>
 *   conn.model / conn.sync() / conn.command(id, cmd, key) / conn.publish(topic, bytes, retain) / conn.close()
 *   conn.on('message', (topic, payload) => …)
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { refuseCleartext } from '../credential-origins';
import { OtaError } from '../errors';
import type { KeyFile } from '../keys';
import { FleetModel } from './model';
import { brokerUrlProblem, COMMANDS, checkName, topics, type CommandDoc, type CommandName } from './protocol';
import { signDocument } from './signed';

export interface FleetOptions {
  /** mqtt://host:port or mqtts://host:port */
  url: string;
  fleet: string;
  user?: string;
  password?: string;
  /** PEM of the CA that signed the broker's certificate (mqtts). */
  ca?: string;
  clientId?: string;
  /** Connect timeout (ms), default 10 000. */
  timeoutMs?: number;
  /** Told once when the broker names more boards than the host keeps (FleetModel 'capped'). */
  onWarning?: (message: string) => void;
}

/** Words for a failed connection, with a stable code. */
export function brokerError(url: string, err: unknown): OtaError {
  const e = err as { code?: unknown; message?: string };
  const msg = e?.message ?? String(err);
  if (e?.code === 4 || e?.code === 5 || /Not authorized|Bad User Name or Password/i.test(msg)) {
    return new OtaError('fleet_auth', `the broker ${url} refused the user name or password`);
  }
  if (/ECONNREFUSED/.test(msg)) return new OtaError('fleet_down', `no broker listens at ${url}`);
  if (/certificate|self.signed|CERT/i.test(msg)) {
    return new OtaError('fleet_tls', `the broker ${url} presented a certificate that is not trusted: ${msg}`);
  }
  return new OtaError('fleet_down', `cannot reach the broker ${url}: ${msg}`);
}

export class FleetConnection extends EventEmitter {
  readonly model: FleetModel;
  readonly t: ReturnType<typeof topics>;
  private lastTs = 0;
  private syncs = new Map<string, () => void>();
  /** The last payload of the fleet-wide topics (rollout, controller), for parts that start listening late. */
  readonly latest = new Map<string, Buffer>();

  constructor(
    readonly client: MqttClient,
    readonly fleet: string,
    readonly clientId: string,
  ) {
    super();
    this.model = new FleetModel(fleet);
    this.t = topics(fleet);
    client.on('message', (topic, payload) => {
      const waiter = this.syncs.get(topic);
      if (waiter) {
        this.syncs.delete(topic);
        waiter();
        return;
      }
      if (topic === this.t.rollout || topic === this.t.controller) this.latest.set(topic, payload);
      this.model.handle(topic, payload);
      this.emit('message', topic, payload);
    });
  }

  /**
   * Resolves once everything the broker held when this was called (retained statuses, the rollout) has
   * arrived: a message to ourselves comes back after them.
   */
  async sync(timeoutMs = 10_000): Promise<void> {
    const topic = this.t.sync(`${this.clientId}-${randomBytes(4).toString('hex')}`);
    await this.client.subscribeAsync(topic, { qos: 1 });
    const back = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.syncs.delete(topic);
        reject(new OtaError('fleet_timeout', 'the broker did not answer in time'));
      }, timeoutMs);
      this.syncs.set(topic, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await this.client.publishAsync(topic, 's', { qos: 1 });
    await back;
    await this.client.unsubscribeAsync(topic);
  }

  publish(topic: string, payload: Buffer | string, retain = false, qos: 0 | 1 = 1): Promise<unknown> {
    return this.client.publishAsync(topic, payload, { qos, retain });
  }

  /**
   * A strictly increasing timestamp (ms): boards refuse a command not newer than the last they took. With
   * `above`, also above that (a board's reported `cts`), so a host whose clock is behind still signs a
   * command the board takes.
   */
  nextTs(above = 0): number {
    this.lastTs = Math.max(Date.now(), this.lastTs + 1, above + 1);
    return this.lastTs;
  }

  /**
   * Raises the timestamps this connection signs above `ts`, one of a signed document another host wrote:
   * a host whose clock is behind must still sign above it, or boards would refuse its abort as a replay.
   */
  observeTs(ts: number): void {
    if (Number.isSafeInteger(ts)) this.lastTs = Math.max(this.lastTs, ts);
  }

  /** Sends a signed command (QoS 1: a sleeping board's persistent session queues it). */
  async command(id: string, cmd: CommandName, key: KeyFile): Promise<CommandDoc> {
    checkName('board id', id);
    if (!COMMANDS.includes(cmd)) throw new OtaError('bad_command', `unknown command ${cmd}`);
    const doc: CommandDoc = {
      fleet: this.fleet,
      cmd,
      id,
      nonce: randomBytes(8).toString('hex'),
      ts: this.nextTs(commandFloor(this.model.get(id)?.cts)),
    };
    await this.publish(this.t.cmd(id), await signDocument(doc, key), false, 1);
    return doc;
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

/**
 * A board's reported `cts` as a floor for the next command's `ts`, or 0. Statuses are not signed: a forged
 * one can only make the host sign higher, so only a value that leaves room for every later command counts
 * (at most 2^50, some 35 000 years of milliseconds), never one that would stop them.
 */
export function commandFloor(cts: number | undefined): number {
  return cts !== undefined && Number.isSafeInteger(cts) && cts > 0 && cts <= 2 ** 50 ? cts : 0;
}

export async function connectFleet(opts: FleetOptions): Promise<FleetConnection> {
  checkName('fleet name', opts.fleet);
  const problem = brokerUrlProblem(opts.url);
  if (problem) throw new OtaError('fleet_bad_url', `${problem}: ${opts.url}`);
  // The password crosses the network over mqtts:// only, as the board's does (core/credential-origins.ts).
  if (opts.password) refuseCleartext(opts.url.replace(/^mqtts:/, 'https:'), 'the broker password');
  const clientId = opts.clientId ?? `ota-host-${randomBytes(4).toString('hex')}`;
  let client: MqttClient;
  try {
    client = await mqtt.connectAsync(
      opts.url,
      {
        protocolVersion: 4,
        clientId,
        username: opts.user,
        password: opts.password,
        ca: opts.ca,
        rejectUnauthorized: true,
        reconnectPeriod: 0,
        connectTimeout: opts.timeoutMs ?? 10_000,
        clean: true,
      },
      false,
    );
  } catch (err) {
    throw brokerError(opts.url, err);
  }
  const conn = new FleetConnection(client, opts.fleet, clientId);
  // Before subscribing: the retained statuses arrive with the subscription's answer.
  if (opts.onWarning) conn.model.on('capped', opts.onWarning);
  await client.subscribeAsync(conn.t.all, { qos: 1 });
  return conn;
}
