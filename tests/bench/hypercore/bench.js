/*
 * bench.js — the append-and-replicate workload of tests/bench/bench_sync.c
 * on Hypercore (npm hypercore, pinned in package.json), for comparison.
 * One writer appends N blocks of SIZE bytes in batches of 1000 into a core
 * stored under DIR; an empty reader, given only the core's key, replicates
 * it over a real TCP loopback connection (net.createServer / net.connect,
 * each socket piped through core.replicate(), as Hypercore's README shows)
 * until it holds every block.  The reader verifies what it receives
 * (Merkle proofs against the signed tree); the script then reads the last
 * block back and compares it, and checks the reader's length.
 *
 * Usage: node bench.js N SIZE DIR  (DIR must not exist; it is removed).
 * Prints one line to stdout:
 *   RESULT append_s=... replicate_s=... length=... wire_bytes=... hypercore=VERSION node=VERSION
 * wire_bytes counts both directions on the reader's socket (Hypercore's
 * replication is Noise-encrypted, so it includes that framing).  Exits 1
 * with a message on stderr when anything fails.
 */
'use strict'

const fs = require('fs')
const net = require('net')
const path = require('path')
const crypto = require('crypto')
const Hypercore = require('hypercore')
const { version } = require('hypercore/package.json')

async function main () {
  const n = parseInt(process.argv[2], 10)
  const size = parseInt(process.argv[3], 10)
  const dir = process.argv[4]
  if (!(n > 0) || !(size > 0) || !dir) throw new Error('usage: node bench.js N SIZE DIR')
  fs.mkdirSync(dir, { recursive: false })

  const writer = new Hypercore(path.join(dir, 'writer'))
  await writer.ready()

  /* append: batches of 1000, as bench_sync.c appends keten entries */
  const blocks = new Array(n)
  for (let i = 0; i < n; i++) blocks[i] = crypto.randomBytes(size)
  let t = process.hrtime.bigint()
  for (let i = 0; i < n; i += 1000) await writer.append(blocks.slice(i, Math.min(n, i + 1000)))
  const appendS = Number(process.hrtime.bigint() - t) / 1e9
  if (writer.length !== n) throw new Error(`writer holds ${writer.length} blocks, not ${n}`)

  const reader = new Hypercore(path.join(dir, 'reader'), writer.key)
  await reader.ready()

  const sockets = []
  const server = net.createServer((socket) => {
    sockets.push(socket)
    socket.on('error', () => {})
    socket.pipe(writer.replicate(false)).pipe(socket)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))

  /* replicate: from connect until the reader holds and has verified all n */
  t = process.hrtime.bigint()
  const socket = net.connect(server.address().port, '127.0.0.1')
  sockets.push(socket)
  socket.on('error', () => {})
  socket.pipe(reader.replicate(true)).pipe(socket)
  await reader.update({ wait: true })
  await reader.download({ start: 0, end: n }).done()
  const replicateS = Number(process.hrtime.bigint() - t) / 1e9
  const wireBytes = socket.bytesRead + socket.bytesWritten

  if (reader.length !== n || reader.contiguousLength !== n) {
    throw new Error(`reader holds ${reader.contiguousLength} of ${reader.length} blocks, not ${n}`)
  }
  const last = await reader.get(n - 1, { wait: false })
  if (!last || !Buffer.from(last).equals(blocks[n - 1])) throw new Error('last block differs')

  for (const s of sockets) s.destroy()
  server.close()
  await reader.close()
  await writer.close()
  fs.rmSync(dir, { recursive: true, force: true })
  process.stdout.write(`RESULT append_s=${appendS.toFixed(6)} replicate_s=${replicateS.toFixed(6)} ` +
                       `length=${n} wire_bytes=${wireBytes} hypercore=${version} node=${process.version}\n`)
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`hypercore bench: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
