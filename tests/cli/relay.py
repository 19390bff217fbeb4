#!/usr/bin/env python3
# relay.py — a hostile relay for tests/cli/t_relay.sh: it listens on a
# TCP port, and for each connection it accepts it dials the target port
# and forwards nng's SP-over-TCP stream both ways (an 8-byte header each
# way, then frames of a 64-bit length and the message; a req0 request and
# its rep0 reply start with a 4-byte request id), recording every byte:
#
#   OUT/capture.bin   everything, both directions, as it passed
#   OUT/c2s.N.bin     the N-th request's message (request id cut off)
#   OUT/s2c.N.bin     the N-th reply's message
#   OUT/own.N.bin     the replies to requests the relay sent itself
#
# With --hijack KEYHEX the relay forwards the first three requests
# (Hello, Auth, the first sealed one) and their replies, then stops
# forwarding and speaks on the victim's session itself: a plain Fetch of
# KEYHEX's feed from seq 1, the victim's next request with its last byte
# flipped, then as it was, and the first sealed request replayed after
# it; it records the answers and closes.
#
#   relay.py LISTEN_PORT TARGET_PORT OUT [--hijack KEYHEX] [--once]
import os
import socket
import struct
import sys
import threading


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            raise EOFError
        b += chunk
    return b


class Tape:
    def __init__(self, out):
        self.out = out
        self.lock = threading.Lock()
        self.n = {"c2s": 0, "s2c": 0, "own": 0}

    def raw(self, b):
        with self.lock:
            with open(os.path.join(self.out, "capture.bin"), "ab") as f:
                f.write(b)

    def frame(self, kind, msg):
        with self.lock:
            self.n[kind] += 1
            with open(os.path.join(self.out, "%s.%d.bin" % (kind, self.n[kind])), "wb") as f:
                f.write(msg[4:])


def read_frame(s, tape):
    hdr = recv_exact(s, 8)
    (n,) = struct.unpack(">Q", hdr)
    if n > 16 * 1024 * 1024:
        raise EOFError
    msg = recv_exact(s, n)
    tape.raw(hdr + msg)
    return hdr + msg, msg


def pump(src, dst, tape, kind, limit=None):
    """Forward frames from src to dst; stop after limit frames."""
    k = 0
    try:
        while limit is None or k < limit:
            whole, msg = read_frame(src, tape)
            tape.frame(kind, msg)
            dst.sendall(whole)
            k += 1
    except (EOFError, OSError):
        pass
    return k


def fetch_request(key, rid):
    author = bytes.fromhex(key)
    fetch = b"\x0a\x20" + author + b"\x10\x01"
    body = b"\x22" + bytes([len(fetch)]) + fetch
    msg = struct.pack(">I", rid) + body
    return struct.pack(">Q", len(msg)) + msg


def own_request(srv, frame_bytes, tape):
    srv.sendall(frame_bytes)
    tape.raw(frame_bytes)
    _, msg = read_frame(srv, tape)
    tape.frame("own", msg)


def handle(cli, target, tape, hijack):
    srv = socket.create_connection(("127.0.0.1", target))
    try:
        # the SP headers, one each way
        h = recv_exact(cli, 8)
        tape.raw(h)
        srv.sendall(h)
        h = recv_exact(srv, 8)
        tape.raw(h)
        cli.sendall(h)
        if not hijack:
            t = threading.Thread(target=pump, args=(srv, cli, tape, "s2c"), daemon=True)
            t.start()
            pump(cli, srv, tape, "c2s")
            srv.shutdown(socket.SHUT_RDWR)
            t.join(5)
            return
        # Hello, Auth and the first sealed request through, with their answers
        first = None
        for _ in range(3):
            whole, msg = read_frame(cli, tape)
            tape.frame("c2s", msg)
            srv.sendall(whole)
            first = whole
            pump(srv, cli, tape, "s2c", 1)
        # the victim's next request: kept, not forwarded
        whole, msg = read_frame(cli, tape)
        tape.frame("c2s", msg)
        own_request(srv, fetch_request(hijack, 0x80000101), tape)
        flipped = bytearray(whole)
        flipped[-1] ^= 1
        flipped[8:12] = struct.pack(">I", 0x80000102)
        own_request(srv, bytes(flipped), tape)
        # the victim's request as it was (its answer is sealed), then the
        # first sealed one replayed after it
        asis = bytearray(whole)
        asis[8:12] = struct.pack(">I", 0x80000103)
        own_request(srv, bytes(asis), tape)
        replay = bytearray(first)
        replay[8:12] = struct.pack(">I", 0x80000104)
        own_request(srv, bytes(replay), tape)
    except (EOFError, OSError):
        pass
    finally:
        for s in (cli, srv):
            try:
                s.close()
            except OSError:
                pass


def main():
    port, target, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    hijack = None
    once = "--once" in sys.argv
    if "--hijack" in sys.argv:
        hijack = sys.argv[sys.argv.index("--hijack") + 1]
    os.makedirs(out, exist_ok=True)
    tape = Tape(out)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(8)
    with open(os.path.join(out, "ready"), "w") as f:
        f.write("ready\n")
    while True:
        cli, _ = ls.accept()
        threading.Thread(target=handle, args=(cli, target, tape, hijack), daemon=True).start()
        if once:
            break
    threading.Event().wait(30)


if __name__ == "__main__":
    main()
