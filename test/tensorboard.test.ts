import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import {
  buildHistogram,
  crc32c,
  DBL_MAX,
  decodeEvent,
  decodeRecords,
  defaultBucketLimits,
  encodeEvent,
  encodeRecord,
  EventWriter,
  maskCrc,
  readEvents,
  RecordError,
  unmaskCrc,
  type Event,
} from '../src/training/tensorboard/index.js';
import { tempDir } from './helpers.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const f64 = (v: number): string => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return b.toString('hex');
};
const f32 = (v: number): string => {
  const b = Buffer.alloc(4);
  b.writeFloatLE(v);
  return b.toString('hex');
};
const utf8 = (s: string): string => Buffer.from(s).toString('hex');

describe('CRC-32C', () => {
  test('known vectors', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(0)), 0);
    // RFC 3720, B.4
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  });

  test('extends over chunks', () => {
    const all = Buffer.from('123456789');
    assert.equal(crc32c(all.subarray(4), crc32c(all.subarray(0, 4))), 0xe3069283);
  });

  test('masked CRC', () => {
    assert.equal(maskCrc(0), 0xa282ead8);
    // rotr15(0xE3069283) = 0x2507C60D; + 0xA282EAD8 = 0xC78AB0E5
    assert.equal(maskCrc(0xe3069283), 0xc78ab0e5);
    // the sum wraps modulo 2^32
    assert.equal(maskCrc(0xffffffff), (0xffffffff + 0xa282ead8) % 2 ** 32);
    for (const crc of [0, 1, 0x80000000, 0xe3069283, 0xffffffff]) assert.equal(unmaskCrc(maskCrc(crc)), crc);
  });
});

describe('TFRecord framing', () => {
  test('exact bytes of a record', () => {
    assert.equal(hex(encodeRecord(Buffer.from('abc'))), '0300000000000000' + 'b099490e' + '616263' + '6e57f121');
    assert.equal(hex(encodeRecord(new Uint8Array(0))), '0000000000000000' + '29039807' + 'd8ea82a2');
  });

  test('records back, and each kind of damage detected', () => {
    const file = Buffer.concat([encodeRecord(Buffer.from('abc')), encodeRecord(Buffer.from('hello'))]);
    assert.deepEqual(decodeRecords(file).map((r) => Buffer.from(r).toString()), ['abc', 'hello']);

    const badData = Buffer.from(file);
    badData[19 + 12] ^= 0x01; // first byte of 'hello'
    assert.throws(() => decodeRecords(badData), /data CRC mismatch in the record at byte 19/);

    const badLength = Buffer.from(file);
    badLength[19] ^= 0x01;
    assert.throws(() => decodeRecords(badLength), /length CRC mismatch in the record at byte 19/);

    const badCrc = Buffer.from(file);
    badCrc[file.length - 1] ^= 0x80;
    assert.throws(() => decodeRecords(badCrc), RecordError);

    assert.throws(() => decodeRecords(file.subarray(0, file.length - 1)), /says 5 bytes/);
    assert.throws(() => decodeRecords(file.subarray(0, 19 + 5)), /truncated record header at byte 19/);
  });
});

describe('Event encoding', () => {
  test('exact bytes of a file_version event', () => {
    const bytes = encodeEvent({ wallTime: 1.5, step: 3, fileVersion: 'brain.Event:2' });
    // wall_time: field 1, 64-bit; step: field 2, varint; file_version: field 3, length-delimited
    assert.equal(hex(bytes), '09' + f64(1.5) + '1003' + '1a0d' + utf8('brain.Event:2'));
  });

  test('exact bytes of a scalar event, zero value and step 0 included', () => {
    const bytes = encodeEvent({ wallTime: 2, step: 0, summary: { value: [{ tag: 'loss', simpleValue: 0 }] } });
    // proto3 leaves step 0 out, but the oneof simple_value is written even when 0.0
    const value = '0a04' + utf8('loss') + '15' + f32(0);
    const summary = '0a0b' + value;
    assert.equal(hex(bytes), '09' + f64(2) + '2a0d' + summary);
  });

  test('exact bytes of a histogram value', () => {
    const histo = { min: -1, max: 2, num: 3, sum: 1, sumSquares: 6, bucketLimit: [0, DBL_MAX], bucket: [1, 2] };
    const bytes = encodeEvent({ wallTime: 0, step: 300, summary: { value: [{ tag: 'w', histo }] } });
    const h =
      '09' + f64(-1) + '11' + f64(2) + '19' + f64(3) + '21' + f64(1) + '29' + f64(6) +
      '3210' + f64(0) + f64(DBL_MAX) + // bucket_limit, packed
      '3a10' + f64(1) + f64(2); // bucket, packed
    const value = '0a01' + utf8('w') + '2a' + (h.length / 2).toString(16) + h;
    const summary = '0a' + (value.length / 2).toString(16) + value;
    // step 300 = varint ac 02
    assert.equal(hex(bytes), '10ac02' + '2a' + (summary.length / 2).toString(16) + summary);
    assert.deepEqual(decodeEvent(bytes), { wallTime: 0, step: 300, summary: { value: [{ tag: 'w', histo }] } });
  });

  test('int64 steps, negative and large', () => {
    for (const step of [1, 127, 128, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER, -1, -(2 ** 40)]) {
      assert.equal(decodeEvent(encodeEvent({ wallTime: 1, step, fileVersion: 'x' })).step, step);
    }
    // a negative int64 takes the full 10-byte varint
    assert.equal(hex(encodeEvent({ wallTime: 0, step: -1 })), '10' + 'ff'.repeat(9) + '01');
  });

  test('unknown fields are skipped on decode', () => {
    // Event with graph_def (field 4, bytes) and a Summary.Value carrying metadata (field 9)
    const bytes = Buffer.from('2203616263' + '2a0c' + '0a0a' + '0a0178' + '4a00' + '15' + f32(1.5), 'hex');
    assert.deepEqual(decodeEvent(bytes), { wallTime: 0, step: 0, summary: { value: [{ tag: 'x', simpleValue: 1.5 }] } });
  });
});

describe('histogram buckets', () => {
  test("TensorFlow's default limits", () => {
    const limits = defaultBucketLimits();
    assert.equal(limits.length, 1551); // 774 powers of 1.1 from 1e-12 below 1e20, DBL_MAX, mirrored, and 0
    assert.equal(limits[775], 0);
    assert.equal(limits[776], 1e-12);
    assert.equal(limits[0], -DBL_MAX);
    assert.equal(limits[1550], DBL_MAX);
    for (let i = 1; i < limits.length; i++) assert.ok(limits[i] > limits[i - 1]);
    for (let i = 0; i < limits.length; i++) assert.equal(limits[i], -limits[1550 - i] || 0);
  });

  test('default buckets collapse empty runs like EncodeToProto', () => {
    assert.deepEqual(buildHistogram([0]), {
      min: 0, max: 0, num: 1, sum: 0, sumSquares: 0,
      bucketLimit: [0, 1e-12, DBL_MAX],
      bucket: [0, 1, 0],
    });
    const limits = defaultBucketLimits();
    const h = buildHistogram([1, 1, -3, 5e30]);
    // each value lands in the bucket of the first limit above it
    const above = (v: number) => limits.find((l) => l > v)!;
    assert.deepEqual(
      h.bucketLimit.filter((_, i) => h.bucket[i] > 0),
      [above(-3), above(1), DBL_MAX],
    );
    assert.deepEqual(h.bucket.filter((c) => c > 0), [1, 2, 1]);
    assert.equal(h.bucket.reduce((a, b) => a + b), 4);
    assert.equal(h.bucketLimit.at(-1), DBL_MAX);
    for (let i = 1; i < h.bucketLimit.length; i++) assert.ok(h.bucketLimit[i] > h.bucketLimit[i - 1]);
    assert.deepEqual([h.min, h.max, h.num, h.sum, h.sumSquares], [-3, 5e30, 4, 1 + 1 - 3 + 5e30, 1 + 1 + 9 + 5e30 * 5e30]);
  });

  test('equal-width buckets', () => {
    assert.deepEqual(buildHistogram([0, 1, 1, 2, 3], { buckets: 3 }), {
      min: 0, max: 3, num: 5, sum: 7, sumSquares: 15,
      bucketLimit: [1, 2, DBL_MAX],
      bucket: [1, 2, 2],
    });
    assert.deepEqual(buildHistogram([4, 4], { buckets: 10 }).bucketLimit, [DBL_MAX]);
    assert.deepEqual(buildHistogram([4, 4], { buckets: 10 }).bucket, [2]);
    // a range too small to split keeps limits strictly ascending
    const tiny = buildHistogram([1, 1 + 2 ** -52], { buckets: 30 });
    for (let i = 1; i < tiny.bucketLimit.length; i++) assert.ok(tiny.bucketLimit[i] > tiny.bucketLimit[i - 1]);
    assert.equal(tiny.bucket.reduce((a, b) => a + b), 2);
  });

  test('empty and invalid input', () => {
    assert.deepEqual(buildHistogram([]), {
      min: DBL_MAX, max: -DBL_MAX, num: 0, sum: 0, sumSquares: 0, bucketLimit: [DBL_MAX], bucket: [0],
    });
    assert.throws(() => buildHistogram([1, NaN]), /value 1 is NaN/);
    assert.throws(() => buildHistogram([Infinity]), RangeError);
    assert.throws(() => buildHistogram([1], { buckets: 0 }), /positive integer/);
  });
});

describe('EventWriter', () => {
  test('writes a file TensorBoard finds, and reads back what was written', async () => {
    const logdir = join(tempDir('tb-'), 'run1');
    const writer = await EventWriter.create(logdir);
    assert.match(basename(writer.path), new RegExp(`^events\\.out\\.tfevents\\.\\d{10}\\.${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    assert.deepEqual(readdirSync(logdir), [basename(writer.path)]);

    writer.scalar('loss', 0.25, 0, 1000.5);
    writer.scalar('loss', 0.1, 1, 1001.5);
    writer.scalar('train/accuracy', 1 / 3, 1, 1001.5);
    writer.histogram('weights', [0, 1, 1, 2, 3], 1, { buckets: 3 });
    writer.histogram('bias', new Float32Array([0.5, -0.5]), 2);
    await writer.close();

    const events = readEvents(writer.path);
    assert.equal(events.length, 6);
    const [first, ...rest] = events;
    assert.equal(first.fileVersion, 'brain.Event:2');
    assert.equal(first.step, 0);
    assert.ok(Math.abs(first.wallTime - Date.now() / 1000) < 60);
    assert.equal(Math.floor(first.wallTime), Number(basename(writer.path).split('.')[3]));

    const expected: Event[] = [
      { wallTime: 1000.5, step: 0, summary: { value: [{ tag: 'loss', simpleValue: 0.25 }] } },
      { wallTime: 1001.5, step: 1, summary: { value: [{ tag: 'loss', simpleValue: Math.fround(0.1) }] } },
      { wallTime: 1001.5, step: 1, summary: { value: [{ tag: 'train/accuracy', simpleValue: Math.fround(1 / 3) }] } },
    ];
    assert.deepEqual(rest.slice(0, 3), expected);
    assert.deepEqual(rest[3].summary, {
      value: [{ tag: 'weights', histo: { min: 0, max: 3, num: 5, sum: 7, sumSquares: 15, bucketLimit: [1, 2, DBL_MAX], bucket: [1, 2, 2] } }],
    });
    assert.equal(rest[3].step, 1);
    assert.deepEqual(rest[4].summary, { value: [{ tag: 'bias', histo: buildHistogram([0.5, -0.5]) }] });
    assert.equal(rest[4].step, 2);
  });

  test('a corrupted byte in the file is detected', async () => {
    const writer = await EventWriter.create(tempDir('tb-'));
    writer.scalar('loss', 1, 1);
    writer.scalar('loss', 2, 2);
    await writer.close();
    const bytes = readFileSync(writer.path);
    assert.equal(readEvents(writer.path).length, 3);
    const records = decodeRecords(bytes).map((r) => r.length + 16);
    // flip one bit of the last record's float value: the data's last byte, before its 4-byte CRC
    const lastDataByte = records[0] + records[1] + records[2] - 5;
    assert.equal(lastDataByte, bytes.length - 5);
    bytes[lastDataByte] ^= 0x04;
    writeFileSync(writer.path, bytes);
    assert.throws(() => readEvents(writer.path), (err: Error) => {
      assert.ok(err instanceof RecordError);
      assert.match(err.message, /data CRC mismatch/);
      assert.ok(err.message.includes(writer.path));
      return true;
    });
  });

  test('buffers until flush, and flushes periodically and when the buffer is full', async () => {
    const dir = tempDir('tb-');
    const writer = await EventWriter.create(join(dir, 'a'), { flushIntervalMs: 60_000 });
    writer.scalar('x', 1, 1);
    assert.equal(readEvents(writer.path).length, 1); // only the file_version event so far
    await writer.flush();
    assert.equal(readEvents(writer.path).length, 2);

    const timed = await EventWriter.create(join(dir, 'b'), { flushIntervalMs: 20 });
    timed.scalar('x', 1, 1);
    while (readEvents(timed.path).length < 2) await sleep(5);
    assert.equal(readEvents(timed.path).length, 2);
    await timed.close();

    const small = await EventWriter.create(join(dir, 'c'), { maxBufferBytes: 100 });
    for (let step = 0; step < 5; step++) small.scalar('x', step, step);
    // Written in the background once the buffer is full: wait for it (the test's timeout bounds a hang).
    while (readEvents(small.path).length <= 1) await sleep(5);
    await small.close();
    await writer.close();
  });

  test('nothing lost or reordered on close, across many background appends', async () => {
    const writer = await EventWriter.create(tempDir('tb-'), { maxBufferBytes: 512, flushIntervalMs: 1 });
    for (let step = 0; step < 5000; step++) {
      writer.scalar('loss', step / 8, step, 1);
      if (step % 1000 === 0) await sleep(2);
    }
    await writer.close();
    await writer.close(); // twice is harmless
    const events = readEvents(writer.path).slice(1);
    assert.equal(events.length, 5000);
    events.forEach((e, step) => assert.deepEqual(e, { wallTime: 1, step, summary: { value: [{ tag: 'loss', simpleValue: step / 8 }] } }));
  });

  test('two writers in one directory get their own files', async () => {
    const dir = tempDir('tb-');
    const [a, b] = await Promise.all([EventWriter.create(dir), EventWriter.create(dir)]);
    assert.notEqual(a.path, b.path);
    for (const w of [a, b]) assert.ok(basename(w.path).includes('tfevents'));
    a.scalar('a', 1, 1);
    b.scalar('b', 2, 1);
    await Promise.all([a.close(), b.close()]);
    assert.equal(readEvents(a.path)[1].summary?.value[0].tag, 'a');
    assert.equal(readEvents(b.path)[1].summary?.value[0].tag, 'b');
    assert.equal(readEvents(b.path)[0].fileVersion, 'brain.Event:2');
  });

  test('rejects bad input and use after close', async () => {
    const writer = await EventWriter.create(tempDir('tb-'));
    assert.throws(() => writer.scalar('', 1, 1), TypeError);
    assert.throws(() => writer.scalar('x', 1, 1.5), /safe integer/);
    assert.throws(() => writer.scalar('x', 1, 1, NaN), /wall time/);
    assert.throws(() => writer.histogram('h', [NaN], 1), /NaN/);
    await writer.close();
    assert.throws(() => writer.scalar('x', 1, 1), /closed/);
    assert.equal(readEvents(writer.path).length, 1);
    await assert.rejects(EventWriter.create(tempDir('tb-'), { flushIntervalMs: 0 }), /flushIntervalMs/);
  });
});
