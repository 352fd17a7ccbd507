/*
 * Bad input against a real checkpoint directory (two generations of a real program): each
 * case gives one line on stderr, a non-zero status, no crash and no hang, and leaves the
 * generations that were there byte-identical (hashed before and after) and the program's
 * output file untouched (nothing was started). As root and as an unprivileged user.
 *
 * test/cli.test.ts already checks the messages of the simplest cases against synthetic
 * images; here the images are real ones, damaged the way a disk or a crash would: cut
 * short at several places, one byte flipped in a memory chunk's head, or inside its data
 * (found with the project's image reader). A plain restart maps chunk data without
 * reading it (docs/architecture.md, "Fast restart"): damaged data is refused by
 * `restart --verify` and `inspect --verify`; damaged heads and cut images by any restart.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, test, TestContext } from 'node:test';
import { readImage } from '../../src/image/reader';
import { checkpoint, killLaunched, launchUntil, onlyImage } from './flows';
import { Box, CliResult, freePort, hashGenerations, oneLine, programArgv, removeShared, variants } from './harness';

after(removeShared);

function expectCleanFailure(r: CliResult, status: number | null, pattern: RegExp, what: string): void {
  const msg = `${what}: ${JSON.stringify({ status: r.status, stderr: r.stderr, stdout: r.stdout })}`;
  if (status === null) assert.ok(r.status !== 0 && r.signal === null, msg);
  else assert.equal(r.status, status, msg);
  assert.ok(oneLine(r.stderr), `${what}: expected one line on stderr, got ${JSON.stringify(r.stderr)}`);
  assert.doesNotMatch(r.stderr, /internal error|at .*\.js:\d+/, `${what}: crashed`);
  assert.match(r.stderr, pattern, what);
}

/** A TCP server on a free port that is not a coordinator. */
async function impostor(t: TestContext, onConnection: (s: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    onConnection(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

for (const v of variants()) {
  test(`bad input fails cleanly and leaves the earlier generations intact — ${v.name}`, { skip: v.skip }, async (t) => {
    const box = Box.create(t, v.identity());
    const port = await freePort();
    const launched = await launchUntil(box, port, 'cpu', ['1000'], 3);
    await checkpoint(box, port);
    const gen2 = await checkpoint(box, port);
    await killLaunched(box, port, launched);
    const ckpt = launched.ckptDir;
    const pristine = hashGenerations(ckpt);
    assert.deepEqual([...pristine.keys()].filter((k) => k.endsWith('MANIFEST.json')), ['gen-000001/MANIFEST.json', 'gen-000002/MANIFEST.json']);
    const output = fs.readFileSync(launched.out);
    const intact = (what: string, dir = ckpt, expect = pristine): void => {
      assert.deepEqual(hashGenerations(dir), expect, `${what}: the generations changed`);
      assert.ok(fs.readFileSync(launched.out).equals(output), `${what}: the program's output file changed — something ran`);
    };
    const cport = String(await freePort());

    /** A copy of the checkpoint directory, owned by the test's user, for damaging. */
    let copies = 0;
    const copy = (): string => {
      const dir = box.path(`damaged-${++copies}`);
      fs.cpSync(ckpt, dir, { recursive: true, verbatimSymlinks: true });
      box.giveAway(dir);
      return dir;
    };
    /** What a copy's hashes must stay: the pristine ones, except the image we damaged. */
    const except = (damaged: string): Map<string, string> => {
      const m = new Map(pristine);
      m.delete(damaged);
      return m;
    };
    const withoutImage = (dir: string, damaged: string): Map<string, string> => {
      const m = hashGenerations(dir);
      m.delete(damaged);
      return m;
    };
    const gen2Image = `gen-000002/${path.basename(onlyImage(gen2))}`;

    await t.test('launch with no program', async () => {
      for (const tail of [[], ['--']]) {
        const r = await box.stasis(['launch', '--coord-port', cport, '--ckpt-dir', ckpt, ...tail]);
        expectCleanFailure(r, 2, /no program to launch/, `launch ${tail.join(' ')}`);
      }
      intact('launch with no program');
    });

    await t.test('checkpoint with no coordinator', async () => {
      const r = await box.stasis(['checkpoint', '--coord-port', cport]);
      expectCleanFailure(r, 1, new RegExp(`no coordinator at 127\\.0\\.0\\.1:${cport}`), 'checkpoint');
      assert.ok(r.ms < 10000, `took ${r.ms} ms`);
      intact('checkpoint with no coordinator');
    });

    await t.test('restart of a missing directory or generation', async () => {
      for (const target of [box.path('no-such-dir'), path.join(ckpt, 'gen-000042')]) {
        const r = await box.stasis(['restart', '--coord-port', cport, target]);
        expectCleanFailure(r, 1, new RegExp(`no checkpoint directory at ${target}`), `restart ${target}`);
      }
      intact('restart of a missing directory');
    });

    await t.test('restart of a truncated image', async () => {
      const img = await readImage(onlyImage(gen2));
      const mid = img.chunks[img.chunks.length >> 1]!;
      const cuts: [string, number][] = [
        ['inside the file header', 16],
        ['inside a chunk\'s data', mid.dataOffset + (mid.storedLen >> 1)],
        ['just before the END record', Number(img.end!.endOffset)],
        ['one byte short', img.fileSize - 1],
      ];
      for (const [where, at] of cuts) {
        const dir = copy();
        fs.truncateSync(path.join(dir, gen2Image), at);
        const r = await box.stasis(['restart', '--coord-port', cport, dir]);
        expectCleanFailure(r, 1, /truncated/, `restart of an image cut ${where} (at ${at})`);
        intact(`truncated ${where}`, ckpt);
        assert.deepEqual(withoutImage(dir, gen2Image), except(gen2Image), `truncated ${where}: the other files of the copy changed`);
      }
    });

    await t.test('restart of an image with one byte flipped in a chunk\'s head', async () => {
      const img = await readImage(onlyImage(gen2));
      for (const chunk of [img.chunks[0]!, img.chunks[img.chunks.length >> 1]!, img.chunks[img.chunks.length - 1]!]) {
        const dir = copy();
        const file = path.join(dir, gen2Image);
        // The head (addr, raw_len, ...) sits in the page before the data; flip a bit of addr
        // that leaves it unaligned.
        const key = Buffer.alloc(16);
        key.writeBigUInt64LE(chunk.addr, 0);
        key.writeBigUInt64LE(chunk.rawLen, 8);
        const page = Buffer.alloc(4096);
        const fd = fs.openSync(file, 'r+');
        fs.readSync(fd, page, 0, 4096, chunk.dataOffset - 4096);
        const at = page.indexOf(key);
        assert.ok(at >= 0, `the head of the chunk at 0x${chunk.addr.toString(16)} is in the page before its data`);
        page[at + 1] = page[at + 1]! ^ 0x08;
        fs.writeSync(fd, page, at + 1, 1, chunk.dataOffset - 4096 + at + 1);
        fs.closeSync(fd);
        const r = await box.stasis(['restart', '--coord-port', cport, dir]);
        expectCleanFailure(r, 1, /is not a whole number of pages|damaged/, `restart of an image with a flipped byte in the head of the chunk at 0x${chunk.addr.toString(16)}`);
        intact('flipped head byte', ckpt);
        assert.deepEqual(withoutImage(dir, gen2Image), except(gen2Image), 'flipped head byte: the other files of the copy changed');
      }
    });

    await t.test('restart --verify of an image with one byte flipped in a chunk\'s data', async () => {
      const img = await readImage(onlyImage(gen2));
      const dir = copy();
      const file = path.join(dir, gen2Image);
      for (const chunk of [img.chunks[img.chunks.length >> 1]!, img.chunks[img.chunks.length - 1]!]) {
        const at = chunk.dataOffset + (chunk.storedLen >> 1);
        const fd = fs.openSync(file, 'r+');
        const b = Buffer.alloc(1);
        fs.readSync(fd, b, 0, 1, at);
        b[0] = b[0]! ^ 0x10;
        fs.writeSync(fd, b, 0, 1, at);
        fs.closeSync(fd);
        const r = await box.stasis(['restart', '--verify', '--coord-port', cport, dir]);
        expectCleanFailure(r, 1, /CRC mismatch in record #\d+ \(CHUNK\) .*\(chunk data\)/, `restart --verify of an image with a flipped byte at ${at} (chunk 0x${chunk.addr.toString(16)})`);
        const inspect = await box.stasis(['inspect', '--verify', dir]);
        expectCleanFailure(inspect, 1, /CRC mismatch in record #\d+ \(CHUNK\) .*\(chunk data\)/, 'inspect --verify of the flipped image');
        intact('flipped byte', ckpt);
        assert.deepEqual(withoutImage(dir, gen2Image), except(gen2Image), 'flipped byte: the other files of the copy changed');
        // Put it back for the next chunk, so each run has exactly one bad byte.
        const fd2 = fs.openSync(file, 'r+');
        b[0] = b[0]! ^ 0x10;
        fs.writeSync(fd2, b, 0, 1, at);
        fs.closeSync(fd2);
      }
    });

    await t.test('a coordinator port held by another program', async (tt) => {
      const silent = await impostor(tt, () => undefined);
      const garbage = await impostor(tt, (s) => s.write(Buffer.from('\x00\xffgarbage\r\n\x13\x37'.repeat(8), 'latin1')));
      const hangup = await impostor(tt, (s) => s.destroy());
      // A frame header that looks like a coordinator's RESPONSE, then a payload that is not JSON.
      const lookalike = await impostor(tt, (s) => {
        const h = Buffer.alloc(12);
        Buffer.from('STSP', 'latin1').copy(h, 0);
        h.writeUInt16LE(1, 4);
        h.writeUInt16LE(0x21, 6);
        h.writeUInt32LE(5, 8);
        s.write(Buffer.concat([h, Buffer.from('{nope', 'latin1')]));
      });
      const argv = await programArgv('cpu', ['100']);
      const servers = [['silent', silent], ['garbage', garbage], ['hang-up', hangup], ['coordinator look-alike', lookalike]] as const;
      for (const [kind, p] of servers) {
        const inUse = new RegExp(`port ${p} is in use by another program — pass --coord-port N`);
        const l = await box.stasis(['launch', '--coord-port', String(p), '--ckpt-dir', ckpt, '--', ...argv]);
        expectCleanFailure(l, 1, inUse, `launch on a port held by a ${kind} server`);
        assert.equal(l.stdout, '', 'the program must not have run');
        assert.ok(l.ms < 15000, `launch took ${l.ms} ms`);
        const c = await box.stasis(['coordinator', '--port', String(p)]);
        expectCleanFailure(c, 1, inUse, `coordinator on a port held by a ${kind} server`);
        intact(`port held by a ${kind} server`);
      }
    });
  });
}
