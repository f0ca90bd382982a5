// SPDX-License-Identifier: MIT
// memagent-node: publishes this Node.js thread's V8 heap to memagent on a telemetry page (docs/telemetry.md).
//
// What it reports: process.memoryUsage(), v8.getHeapStatistics() and every
// space of v8.getHeapSpaceStatistics() by V8's names; GC counts and pause
// histograms per kind from perf_hooks (minor -> scavenge, major ->
// mark_compact, incremental -> incremental_marking, weak callbacks ->
// weak_callbacks) and old space used after each major GC (the leak signal's
// input); queue depths the app names (queue()); event-loop delay p50/p99.
//
// Cost is bounded: GC events only count into memory (plus one space reading
// per major GC); the page is rewritten at most every minIntervalMs after GC
// events and every intervalMs by one unref'd timer, so the client never
// keeps an app alive. Heap snapshots on request are off unless a snapshot
// directory is given.
'use strict';

const v8 = require('v8');
const path = require('path');
const { PerformanceObserver, monitorEventLoopDelay, constants } = require('perf_hooks');
const { isMainThread, threadId } = require('worker_threads');
const pagelib = require('./lib/page');
const snapshot = require('./lib/snapshot');

const { OFF, LIMITS, FLAGS, u64, u32, text } = pagelib;

const KIND_NAMES = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark_compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental_marking',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak_callbacks',
};
const OLD_SPACES = new Set(['old_space', 'large_object_space']);
// monitorEventLoopDelay records the time between its timer's runs, so an
// idle loop reads as the resolution itself; the delay is what exceeds it.
const LOOP_RESOLUTION_MS = 10;
const LOOP_RESOLUTION_NS = LOOP_RESOLUTION_MS * 1e6;

function envInt(name, dflt, min) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  // A bad value is reported once and ignored (like libgengc's GENGC_*).
  if (!Number.isInteger(n) || n < min) {
    process.emitWarning(`memagent-node: ${name}=${v} is not an integer >= ${min}; using ${dflt}`);
    return dflt;
  }
  return n;
}

function defaultName() {
  const main = process.argv[1];
  if (main) return path.basename(main).replace(/\.[cm]?js$/, '') || 'node';
  return process.title || 'node';
}

function nowNs() {
  return process.hrtime.bigint();                    // CLOCK_MONOTONIC (libuv's uv_hrtime)
}

class Client {
  constructor(opts) {
    this.opts = {};
    this.kinds = [];                                 // { name, count, totalNs, maxNs, hist[32] }
    this.kindIndex = new Map();
    this.ring = [];                                  // the newest 32 major GCs: { seq, timeNs, oldUsed, pauseNs }
    this.majors = 0;
    this.queues = [];                                // { name, fn, depth, timeNs }
    this.updates = 0;
    this.errors = 0;
    this.lastWrite = 0;
    this.loopP50 = 0;
    this.loopP99 = 0;
    this.configure(opts);
    this.page = new pagelib.Page({ dir: this.opts.dir, name: this.opts.name, heapId: threadId + 1 });
    this.observer = new PerformanceObserver(list => this.onGcEntries(list.getEntries()));
    this.observer.observe({ entryTypes: ['gc'] });
    // One event loop per process: the main thread measures it.
    if (isMainThread) {
      this.loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
      this.loop.enable();
    }
    if (this.opts.snapshotDir && isMainThread)
      this.snapshots = snapshot.listen(this, this.opts.snapshotDir, this.opts.snapshotIntervalMs);
    this.onExit = () => this.stop();
    process.on('exit', this.onExit);
    this.update();
  }

  configure(opts = {}) {
    const o = this.opts;
    o.name = opts.name || o.name || process.env.MEMAGENT_NAME || defaultName();
    o.intervalMs = opts.intervalMs || o.intervalMs || envInt('MEMAGENT_INTERVAL_MS', 1000, 10);
    o.minIntervalMs = opts.minIntervalMs || o.minIntervalMs ||
      envInt('MEMAGENT_MIN_INTERVAL_MS', Math.min(100, o.intervalMs), 1);
    o.dir = opts.dir || o.dir || process.env.MEMAGENT_PAGE_DIR || undefined;
    o.snapshotDir = opts.snapshotDir || o.snapshotDir || process.env.MEMAGENT_SNAPSHOT_DIR || undefined;
    o.snapshotIntervalMs = opts.snapshotIntervalMs || o.snapshotIntervalMs ||
      envInt('MEMAGENT_SNAPSHOT_INTERVAL_MS', 60000, 0);
    if (this.page) this.page.setName(o.name);
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => this.tick(), o.intervalMs);
    this.timer.unref();
  }

  // GC entries come batched after the GCs; each only counts into memory,
  // plus one space reading per major GC (its ring record).
  onGcEntries(entries) {
    let major = false;
    for (const e of entries) {
      const kind = e.detail ? e.detail.kind : e.kind;
      const name = KIND_NAMES[kind];
      if (!name) continue;
      let k = this.kindIndex.get(name);
      if (!k) {
        if (this.kinds.length >= LIMITS.kinds) continue;
        k = { name, count: 0, totalNs: 0, maxNs: 0, hist: new Array(LIMITS.buckets).fill(0) };
        this.kinds.push(k);
        this.kindIndex.set(name, k);
      }
      const ns = Math.round(e.duration * 1e6);
      const us = ns / 1000;
      const b = us < 2 ? 0 : Math.min(LIMITS.buckets - 1, Math.floor(Math.log2(us)));
      k.count++;
      k.totalNs += ns;
      if (ns > k.maxNs) k.maxNs = ns;
      k.hist[b]++;
      if (name === 'mark_compact') {
        major = true;
        this.majors++;
        this.ring[this.majors % LIMITS.ring] = { seq: this.majors, timeNs: nowNs(), oldUsed: -1, pauseNs: ns };
      }
    }
    if (major) {
      // Old space used now: after the batch's last major GC (no GC runs
      // between it and this callback's reading).
      let old = 0;
      for (const s of v8.getHeapSpaceStatistics()) if (OLD_SPACES.has(s.space_name)) old += s.space_used_size;
      for (const r of this.ring) if (r && r.oldUsed < 0) r.oldUsed = old;
    }
    if (Date.now() - this.lastWrite >= this.opts.minIntervalMs) this.update();
  }

  tick() {
    if (this.loop) {
      if (this.loop.count > 0) {
        this.loopP50 = Math.max(0, this.loop.percentile(50) - LOOP_RESOLUTION_NS);
        this.loopP99 = Math.max(0, this.loop.percentile(99) - LOOP_RESOLUTION_NS);
      }
      this.loop.reset();
    }
    this.update();
  }

  // Reads everything and rewrites the page now. Returns what it wrote
  // ({ heap, spaces, memoryUsage }), or null when the page is gone.
  update() {
    if (!this.page || this.page.closed) return null;
    const hs = v8.getHeapStatistics();
    const mu = process.memoryUsage();
    const spaces = v8.getHeapSpaceStatistics();
    const b = this.page.buf;
    const t = nowNs();
    u64(b, OFF.updateNs, t);
    u64(b, OFF.heapTotal, hs.total_heap_size);
    u64(b, OFF.heapUsed, hs.used_heap_size);
    u64(b, OFF.heapLimit, hs.heap_size_limit);
    u64(b, OFF.heapAvailable, hs.total_available_size);
    u64(b, OFF.heapPhysical, hs.total_physical_size);
    u64(b, OFF.external, mu.external);
    u64(b, OFF.arrayBuffers, Math.min(mu.arrayBuffers, mu.external));
    // V8 exposes neither promoted nor allocated bytes to JavaScript: 0, as the
    // format allows for counters a writer does not have.
    u64(b, OFF.fullGcs, this.majors);
    u64(b, OFF.gcSeq, this.majors);
    let flags = FLAGS.arrayBuffers;
    if (this.loop) {
      flags |= FLAGS.loopDelay;
      u64(b, OFF.loopP50, Math.min(this.loopP50, this.loopP99));
      u64(b, OFF.loopP99, this.loopP99);
    }
    if (this.snapshots && this.snapshots.allowed()) flags |= FLAGS.snapshotAllowed;
    u32(b, OFF.flags, flags);
    let n = 0;
    for (const s of spaces) {
      if (n >= LIMITS.spaces) break;
      const o = OFF.spaces + 64 * n++;
      text(b, o, LIMITS.keyBytes, s.space_name);
      u64(b, o + 32, s.space_size);
      u64(b, o + 40, Math.min(s.space_used_size, s.space_size));
      u64(b, o + 48, s.space_available_size);
      u64(b, o + 56, s.physical_space_size);
    }
    u32(b, OFF.nSpaces, n);
    this.kinds.forEach((k, i) => {
      const o = OFF.kinds + 320 * i;
      text(b, o, LIMITS.keyBytes, k.name);
      u64(b, o + 32, k.count);
      u64(b, o + 40, k.totalNs);
      u64(b, o + 48, k.maxNs);
      for (let j = 0; j < LIMITS.buckets; j++) u64(b, o + 64 + 8 * j, k.hist[j]);
    });
    u32(b, OFF.nKinds, this.kinds.length);
    for (let i = 0; i < LIMITS.ring; i++) {
      const r = this.ring[i];
      if (!r) continue;
      const o = OFF.ring + 32 * i;
      u64(b, o, r.seq);
      u64(b, o + 8, r.timeNs);
      u64(b, o + 16, Math.max(0, r.oldUsed));
      u64(b, o + 24, r.pauseNs);
    }
    this.queues.forEach((q, i) => {
      try {
        const d = Number(q.fn());
        if (Number.isFinite(d) && d >= 0) {
          q.depth = Math.floor(d);
          q.timeNs = t;
        }
      } catch (e) { /* the last depth stands */ }
      const o = OFF.queues + 80 * i;
      text(b, o, LIMITS.nameBytes, q.name);
      u64(b, o + 64, q.depth);
      u64(b, o + 72, q.timeNs);
    });
    u32(b, OFF.nQueues, this.queues.length);
    if (this.snapshots) this.snapshots.fill(b);
    try {
      this.page.publish(false);
      this.updates++;
    } catch (e) {
      this.errors++;                                 // the page stays as it was: whole
    }
    this.lastWrite = Date.now();
    return { heap: hs, spaces, memoryUsage: mu };
  }

  queue(name, fn) {
    if (typeof fn !== 'function') throw new TypeError('memagent-node: queue(name, fn): fn must return the depth');
    const bytes = Buffer.byteLength(String(name), 'utf8');
    if (bytes < 1 || bytes > LIMITS.nameBytes - 1)
      throw new RangeError(`memagent-node: a queue name has 1..${LIMITS.nameBytes - 1} bytes`);
    const q = this.queues.find(x => x.name === String(name));
    if (q) {
      q.fn = fn;
      return;
    }
    if (this.queues.length >= LIMITS.queues)
      throw new RangeError(`memagent-node: at most ${LIMITS.queues} queues`);
    this.queues.push({ name: String(name), fn, depth: 0, timeNs: 0 });
  }

  stop() {
    clearInterval(this.timer);
    this.observer.disconnect();
    if (this.loop) this.loop.disable();
    if (this.snapshots) this.snapshots.close();
    process.removeListener('exit', this.onExit);
    if (this.page) this.page.close();
  }
}

let client = null;

// Starts publishing (once per thread; a second call applies the options it
// names: name, intervalMs, minIntervalMs; dir and snapshotDir only on the
// first). Returns the client. Throws when no page can be made (no writable
// tmpfs directory).
function start(opts) {
  if (client && !client.page.closed) {
    if (opts) client.configure(opts);
    return client;
  }
  client = new Client(opts);
  return client;
}

module.exports = {
  start,
  queue(name, fn) { start().queue(name, fn); },
  update() { return start().update(); },
  stop() { if (client) client.stop(); client = null; },
  get client() { return client; },
};
