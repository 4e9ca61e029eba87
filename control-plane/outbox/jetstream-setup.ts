/**
 * The JetStream buckets and streams the control plane owns, placed once NATS answers: the links
 * bucket (the relay's target) and the visitor-salt bucket with KV_REPLICAS replicas (an existing
 * one is brought to that count), and the clicks stream when this control plane ingests clicks.
 * One that JetStream cannot place (more replicas than servers, a `max_file_store` too small for
 * the stream's limits) keeps the control plane not ready: /readyz answers 503 and names it, with
 * JetStream's reason. It retries with backoff until everything is placed.
 */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  Backoff, ensureClicksStream, natsNames, openClickSaltsBucket, openLinksBucket, OutageLog, PublishError, Waker,
  type ClicksStreamOptions, type Logger,
} from '../../shared/index.js';

export interface JetStreamSetupOptions {
  nats: () => Promise<NatsConnection>;
  prefix: string;
  kvReplicas: number;
  /** The clicks stream's settings when this control plane ingests clicks (it owns the stream then); null otherwise. */
  clicks: Partial<ClicksStreamOptions> | null;
  log: Logger;
}

export interface JetStreamStatus {
  placed: boolean;
  /** One sentence per bucket or stream that is not placed. */
  problems: string[];
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Brings an existing stream's replica count to `replicas` (JetStream moves it). */
async function ensureReplicas(jsm: JetStreamManager, stream: string, replicas: number): Promise<void> {
  const info = await jsm.streams.info(stream);
  if (info.config.num_replicas !== replicas) await jsm.streams.update(stream, { ...info.config, num_replicas: replicas });
}

export class JetStreamSetup {
  private state: JetStreamStatus = { placed: false, problems: ['not set up yet: waiting for NATS'] };
  private running = false;
  private loop: Promise<void> | null = null;
  private readonly stopWaker = new Waker();
  private onStop: () => void = () => undefined;
  private resolveLinks: (kv: KV) => void = () => undefined;
  private readonly links: Promise<KV>;

  constructor(private readonly opts: JetStreamSetupOptions) {
    this.links = new Promise((resolve) => (this.resolveLinks = resolve));
  }

  get status(): JetStreamStatus {
    return this.state;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopWaker.wake();
    this.onStop();
    await this.loop;
  }

  /** The links bucket once placed; rejects after `waitMs` while it is not (the relay's round then fails and backs off). */
  async linksBucket(waitMs = 5_000): Promise<KV> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PublishError(`the links bucket is not placed: ${this.state.problems.join('; ')}`)), waitMs);
    });
    try {
      return await Promise.race([this.links, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async run(): Promise<void> {
    const backoff = new Backoff(500, 30_000);
    const outage = new OutageLog(this.opts.log, 'JetStream setup');
    const nc = await new Promise<NatsConnection | null>((resolve) => {
      this.onStop = () => resolve(null);
      this.opts.nats().then(resolve, () => resolve(null));
    });
    while (this.running && nc) {
      const problems = await this.placeAll(nc).catch((err: unknown) => [`JetStream did not answer: ${messageOf(err)}`]);
      if (problems.length === 0) {
        this.state = { placed: true, problems: [] };
        outage.ok();
        this.opts.log.info({ kv_replicas: this.opts.kvReplicas }, 'JetStream buckets and streams in place');
        return;
      }
      this.state = { placed: false, problems };
      outage.failed(new Error(problems.join('; ')));
      await this.stopWaker.wait(backoff.next());
    }
  }

  private async placeAll(nc: NatsConnection): Promise<string[]> {
    const { prefix, kvReplicas: replicas } = this.opts;
    const names = natsNames(prefix);
    const jsm = await jetstreamManager(nc);
    const problems: string[] = [];
    const place = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        problems.push(`${what} cannot be placed: ${messageOf(err)}`);
      }
    };
    await place(`the links bucket ${names.linksBucket} (${replicas} replica${replicas > 1 ? 's' : ''})`, async () => {
      const kv = await openLinksBucket(nc, prefix, { replicas });
      await ensureReplicas(jsm, `KV_${names.linksBucket}`, replicas);
      this.resolveLinks(kv);
    });
    await place(`the visitor-salt bucket ${names.clickSaltsBucket} (${replicas} replica${replicas > 1 ? 's' : ''})`, async () => {
      await openClickSaltsBucket(nc, prefix, { replicas });
      await ensureReplicas(jsm, `KV_${names.clickSaltsBucket}`, replicas);
    });
    const clicks = this.opts.clicks;
    if (clicks) {
      const mb = clicks.maxBytes === undefined ? '' : `, max ${Math.round(clicks.maxBytes / 1024 ** 2)} MB`;
      await place(`the clicks stream ${names.clicksStream} (${clicks.replicas ?? 1} replica${(clicks.replicas ?? 1) > 1 ? 's' : ''}${mb})`, async () => {
        await ensureClicksStream(jsm, prefix, clicks, 'own');
      });
    }
    return problems;
  }
}
