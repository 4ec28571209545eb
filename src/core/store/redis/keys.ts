/**
 * Where a shared registry lives in Redis. Every key of one partition carries the same hash tag,
 * `{<registry>:p<n>}`, so a partition is one Cluster slot and one script can touch all of it:
 *
 *   <prefix>{<registry>}:meta           hash: partitions (fixed at creation), created
 *   <prefix>{<registry>}:instances      sorted set: instance id -> heartbeat expiry (ms)
 *   <prefix>{<registry>:p<n>}:log       stream: the partition's journal, one entry per change
 *   <prefix>{<registry>:p<n>}:snap      hash: id (stream id covered), data (TwinRecord lines)
 *   <prefix>{<registry>:p<n>}:ver       hash: twin id -> version (what the append script checks)
 *   <prefix>{<registry>:p<n>}:lease     string: holder instance id, with a TTL
 *   <prefix>{<registry>:p<n>}:epoch     integer: incremented for each new holder (the fencing token)
 *   <prefix>{<registry>:p<n>}:req       stream: changes submitted on other instances, read by the leader (group "leaders")
 *   <prefix>{<registry>}:reply:<inst>   stream: the leaders' answers to one instance's submitted changes
 *   <prefix>{<registry>}:bell           stream (one entry): rung after a submitted change, on a Cluster only
 */
export interface PartitionKeys {
  log: string;
  snap: string;
  ver: string;
  lease: string;
  epoch: string;
  req: string;
}

export class RedisKeys {
  readonly meta: string;
  readonly instances: string;
  private readonly parts: PartitionKeys[] = [];

  constructor(readonly prefix: string, readonly registry: string) {
    if (/[{}]/.test(registry)) throw new RangeError(`a registry name for Redis holds no braces: ${JSON.stringify(registry)}`);
    this.meta = `${prefix}{${registry}}:meta`;
    this.instances = `${prefix}{${registry}}:instances`;
  }

  /** Rung after a change is submitted, so leaders polling their request streams (Cluster) read them at once. */
  get bell(): string {
    return `${this.prefix}{${this.registry}}:bell`;
  }

  /** Where the leaders answer the changes an instance submitted. */
  reply(instance: string): string {
    return `${this.prefix}{${this.registry}}:reply:${instance}`;
  }

  partition(n: number): PartitionKeys {
    let keys = this.parts[n];
    if (!keys) {
      const tag = `${this.prefix}{${this.registry}:p${n}}`;
      keys = this.parts[n] = { log: `${tag}:log`, snap: `${tag}:snap`, ver: `${tag}:ver`, lease: `${tag}:lease`, epoch: `${tag}:epoch`, req: `${tag}:req` };
    }
    return keys;
  }
}
