#!/usr/bin/env python3
"""crash.py — the crash campaign: keten killed with SIGKILL at random
moments of its work, and what it had acknowledged looked for afterwards.

    N=200 SEED=... KETEN=build/keten python3 tests/crash/crash.py   (make crash)

Trials are spread over five kinds, in turn:

  batch        `keten batch` of 10,000 deliveries (CSV and NDJSON in turn)
  import       `keten import` of another home's export (10,007 entries)
  appends      a loop of single commands (deliveries, a claim every
               fourth), each printing its id when it is acknowledged
  sync-client  `keten sync` from a node over tcp://127.0.0.1, the client
               killed during the transfer
  sync-node    the same transfer, the serving `keten node` killed

Each trial works on fresh copies of prepared homes and kills the process
group of the command (SIGKILL) after a random delay: in half the trials
anywhere between 0 and the time the same work took uninterrupted
(measured at the start, the faster of two runs per kind), in the other
half between 80% and 105% of it, around the commit at the end of the
work.  Then, on every home the trial touched:

  - every id the killed command acknowledged is present (`keten export`):
    the ids it printed on stdout; for batch and import its success line
    (or any id printed) means every entry of the file; for sync the
    "synced from" line means every entry of the node;
  - batch and import are all or nothing: the file's entries are all
    present or none of them (else the trial is "torn");
  - every entry the home held before the trial is still there;
  - `keten verify` exits 0;
  - the home takes a new append, and after a sync kind a sync that runs
    to its end brings every entry of the node (else "recovery failure").

One line per kind and a closing line; exit 1 on any loss, torn file,
verify or recovery failure, 70 when the homes cannot be prepared.  The
seed is printed: SEED=S repeats the run's delays.  Homes live in a
mktemp directory removed at exit (KEEP=1 keeps it); every process started
is killed at exit; nodes listen on free ports of 127.0.0.1 only.
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

KINDS = ["batch", "import", "appends", "sync-client", "sync-node"]
ROWS = 10000  # batch rows, and deliveries in the home that is exported and served
APPENDS = 48  # single commands per appends trial (12 of them claims)
ID = re.compile(r"^[0-9a-f]{64}$")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KETEN = os.path.abspath(os.environ.get("KETEN", os.path.join(ROOT, "build", "keten")))

T = None  # the temporary directory
LIVE = []  # every process started in its own group and not yet reaped


class SetupError(Exception):
    pass


def cleanup():
    for p in list(LIVE):
        stop(p, signal.SIGKILL)
    if T and not os.environ.get("KEEP"):
        shutil.rmtree(T, ignore_errors=True)


def stop(p, sig):
    """Signal p's process group (p and its children), then reap p."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    if p in LIVE:
        LIVE.remove(p)


def start(args, out, err=subprocess.DEVNULL):
    """Start args in a process group of its own, stdout to the file out."""
    with open(out, "wb") as f:
        p = subprocess.Popen(args, stdout=f, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
    LIVE.append(p)
    return p


def keten(home, *args, timeout=120):
    """Run keten in home to its end: (exit status, stdout, stderr)."""
    r = subprocess.run([KETEN, "--home", home] + list(args), capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout, r.stderr


def must(home, *args):
    rc, out, err = keten(home, *args)
    if rc != 0:
        raise SetupError("keten %s: exit %d: %s" % (" ".join(args), rc, err.strip()[:300]))
    return out.strip()


def ids(home):
    """The ids of every entry the home holds (None when export fails)."""
    rc, out, _ = keten(home, "export")
    if rc != 0:
        return None
    return {json.loads(line)["id"] for line in out.splitlines() if line.strip()}


def printed_ids(path):
    with open(path, "r", errors="replace") as f:
        return [line.strip() for line in f if ID.match(line.strip())]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def listening(port, secs=10.0):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        s = socket.socket()
        s.settimeout(0.2)
        ok = s.connect_ex(("127.0.0.1", port)) == 0
        s.close()
        if ok:
            return True
        time.sleep(0.02)
    return False


def copy(src, dst):
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    return dst


# --- the prepared homes ------------------------------------------------------


class World:
    """A municipality m, a lead provider a, and subcontractors b and c
    with an accepted monthly subcontract each, every home holding what
    the others did; big: b with ROWS // 2 deliveries of c and ROWS of its
    own more (two long feeds a lacks), its export big.ndjson; the batch
    files of ROWS deliveries of b."""

    def __init__(self, d):
        self.d = d
        tariffs = os.path.join(ROOT, "examples", "tarieven-voorbeeld-2026.csv")
        m, a, b, c = (os.path.join(d, h) for h in "mabc")
        parties = (("Gemeente Hoorn", "municipality", m), ("Zorg Hoofd", "lead-provider", a),
                   ("Zorg Onder", "subcontractor", b), ("Zorg Derde", "subcontractor", c))
        keys = []
        for name, role, h in parties:
            extra = ["--municipality", "0405"] if role == "municipality" else []
            keys.append(must(h, "init", "--name", name, "--role", role, *extra, "--no-passphrase"))
        for _, _, h in parties:
            must(h, "trust", "add", keys[0], "--name", "Gemeente Hoorn")
        for key, (name, role, _) in zip(keys, parties):
            must(m, "party", "certify", key, "--name", name, "--role", role, "--municipality", "0405")
        must(m, "contract", "add", "--ref", "RC-2026-01", "--domain", "wmo", "--municipality", "0405", "--from",
             "2026-01-01", "--until", "2026-12-31", "--tariffs", tariffs)
        self.al = must(m, "allocate", "--contract", "RC-2026-01", "--client", "HRN-0001", "--provider",
                       "Zorg Hoofd", "--profile", "W02", "--intensity", "B", "--kind", "duurzaam", "--from",
                       "2026-01-01", "--until", "2026-12-31", "--volume", "8", "--unit", "hour", "--frequency",
                       "week")
        self.exchange(m, a, b, c)
        self.sc = must(a, "subcontract", self.al, "--to", "Zorg Onder", "--monthly", "400", "--from",
                       "2026-01-01", "--until", "2026-12-31")
        sc2 = must(a, "subcontract", self.al, "--to", "Zorg Derde", "--monthly", "300", "--from",
                   "2026-01-01", "--until", "2026-12-31")
        self.exchange(a, b, c)
        must(b, "accept", self.sc)
        must(c, "accept", sc2)
        self.exchange(c, a)
        self.exchange(b, a)
        self.m, self.a, self.b = m, a, b
        # the home exported and served: a third party's feed and b's, both long
        self.write_batches(c, sc2, ROWS // 2)
        must(c, "batch", self.csv)
        self.big = copy(b, os.path.join(d, "big"))
        self.exchange(c, self.big)
        self.write_batches(self.big, self.sc, ROWS)
        if len(must(self.big, "batch", self.csv).split()) != ROWS:
            raise SetupError("the batch of %d rows did not print %d ids" % (ROWS, ROWS))
        self.export = os.path.join(d, "big.ndjson")
        must(self.big, "export", "-o", self.export)
        self.big_ids = ids(self.big)
        if not self.big_ids or len(self.big_ids - ids(a)) != ROWS + ROWS // 2:
            raise SetupError("the served home holds %s entries" % (self.big_ids and len(self.big_ids)))

    def exchange(self, src, *dsts):
        f = os.path.join(self.d, "x.ndjson")
        must(src, "export", "-o", f)
        for h in dsts:
            must(h, "import", f)

    def write_batches(self, home, sc, rows):
        """batch.csv and batch.ndjson: rows deliveries on sc."""
        self.csv = os.path.join(self.d, "batch.csv")
        self.ndjson = os.path.join(self.d, "batch.ndjson")
        with open(self.csv, "w") as c, open(self.ndjson, "w") as n:
            c.write("type,subcontract,period,units,unit,note\n")
            for i in range(rows):
                period = "2026-%02d" % (i % 12 + 1)
                c.write("delivery,%s,%s,1.5,hour,row %d of %s\n" % (sc, period, i, os.path.basename(home)))
                n.write(json.dumps({"type": "delivery", "subcontract": sc, "period": period, "units": 1.5,
                                    "unit": "hour", "note": "row %d" % i}) + "\n")

    def appends_script(self, home):
        """A shell loop of single commands, each printing its id."""
        lines = ["set -e"]
        for i in range(APPENDS):
            if i % 4 == 3:
                args = "claim %s --installment 2026-%02d" % (self.sc, i // 4 + 1)
            else:
                args = "deliver %s --period 2026-%02d --units 1 --unit hour" % (self.sc, i % 12 + 1)
            lines.append("'%s' --home '%s' %s" % (KETEN, home, args))
        path = home + ".sh"
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path


# --- one trial ---------------------------------------------------------------


class Tally:
    def __init__(self):
        self.trials = self.killed = self.acked = self.before = 0
        self.lost = self.torn = self.verify = self.recovery = 0
        self.partway = None  # sync: trials that left a home with part of the node's entries
        self.notes = []

    def bad(self):
        return self.lost + self.torn + self.verify + self.recovery


class Trial:
    """The homes of one trial and what is checked on them."""

    def __init__(self, world, tally, name):
        self.w, self.t, self.name = world, tally, name
        self.held = {}

    def home(self, src, name):
        h = copy(src, os.path.join(T, "trial", name))
        self.held[h] = ids(h)
        return h

    def note(self, what):
        self.t.notes.append("%s: %s" % (self.name, what))

    def check(self, home, acked, whole=None, part=None):
        """acked: ids that must be present; whole: a file's ids, present
        all or none (those the home did not hold before); part: ids of
        which the home may hold some (counted when it does)."""
        now = ids(home)
        if now is None:
            self.t.lost += 1
            self.note("%s: keten export failed" % os.path.basename(home))
            return
        before = self.held[home]
        self.t.before += len(before)
        self.t.acked += len(acked)
        lost = (set(acked) | before) - now
        if lost:
            self.t.lost += len(lost)
            self.note("%s: %d acknowledged entries missing, e.g. %s" % (os.path.basename(home), len(lost),
                                                                        sorted(lost)[0]))
        if whole is not None:
            new = set(whole) - before
            if 0 < len(new & now) < len(new):
                self.t.torn += 1
                self.note("%s: %d of the file's %d new entries present" % (os.path.basename(home),
                                                                          len(new & now), len(new)))
        if part is not None:
            new = set(part) - before
            self.t.partway = (self.t.partway or 0) + (0 < len(new & now) < len(new))
        rc, out, err = keten(home, "verify")
        if rc != 0:
            self.t.verify += 1
            self.note("%s: verify exit %d: %s" % (os.path.basename(home), rc, (out + err).strip()[-300:]))

    def append(self, home, target):
        rc, out, err = keten(home, "deliver", target, "--period", "2026-06", "--units", "2", "--unit", "hour")
        shown = keten(home, "show", out.strip())[0] if rc == 0 and ID.match(out.strip()) else -1
        if shown != 0:
            self.t.recovery += 1
            self.note("%s: append after the kill: exit %d, then show exit %d: %s" % (
                os.path.basename(home), rc, shown, err.strip()[:300]))

    def resync(self, home, url):
        rc, out, err = keten(home, "sync", url, "--timeout", "10", timeout=60)
        now = ids(home) or set()
        if rc != 0 or not self.w.big_ids <= now:
            self.t.recovery += 1
            self.note("%s: sync after the kill: exit %d, %d of %d entries: %s" % (
                os.path.basename(home), rc, len(self.w.big_ids & now), len(self.w.big_ids), err.strip()[:300]))


def kill_after(p, delay, t0, watch=None):
    """SIGKILL p's group delay seconds after t0; True when it (or the
    process watched, for a node) was still at work then."""
    end = t0 + delay
    while time.monotonic() < end and p.poll() is None:
        time.sleep(min(0.002, max(0.0, end - time.monotonic())))
    busy = (watch or p).poll() is None
    stop(p, signal.SIGKILL)
    return busy and p.returncode == -signal.SIGKILL


def timed(p, t0, secs=120):
    try:
        p.wait(timeout=secs)
    except subprocess.TimeoutExpired:
        stop(p, signal.SIGKILL)
        raise SetupError("a command did not end in %d s" % secs)
    if p in LIVE:
        LIVE.remove(p)
    return time.monotonic() - t0


def whole(secs, done, what):
    """The duration of an uninterrupted run, which must have succeeded."""
    if not done:
        raise SetupError("the uninterrupted %s did not succeed" % what)
    return secs


def run_batch(tr, delay, rng):
    w = tr.w
    home = tr.home(w.b, "b")
    f = w.csv if rng.random() < 0.5 else w.ndjson
    out = home + ".out"
    t0 = time.monotonic()
    p = start([KETEN, "--home", home, "batch", f], out)
    if delay is None:
        return whole(timed(p, t0), len(printed_ids(out)) == ROWS, "batch")
    tr.t.killed += kill_after(p, delay, t0)
    acked = printed_ids(out)
    # all or nothing: any id printed means the batch was committed whole
    tr.check(home, acked)
    now = ids(home) or set()
    new = len(now - tr.held[home])
    if new not in (0, ROWS) or (acked and new != ROWS):
        tr.t.torn += 1
        tr.note("b: %d of the batch's %d rows present (%d ids printed)" % (new, ROWS, len(acked)))
    tr.append(home, w.sc)


def run_import(tr, delay, rng):
    w = tr.w
    home = tr.home(w.a, "a")
    out = home + ".out"
    t0 = time.monotonic()
    p = start([KETEN, "--home", home, "import", w.export], out)
    if delay is None:
        return whole(timed(p, t0), open(out).read().startswith("imported "), "import")
    tr.t.killed += kill_after(p, delay, t0)
    with open(out) as f:
        done = f.read().startswith("imported ")
    tr.check(home, w.big_ids if done else [], whole=w.big_ids)
    tr.append(home, w.al)


def run_appends(tr, delay, rng):
    w = tr.w
    home = tr.home(w.b, "b")
    out = home + ".out"
    t0 = time.monotonic()
    p = start(["sh", w.appends_script(home)], out)
    if delay is None:
        return whole(timed(p, t0), len(printed_ids(out)) == APPENDS, "appends")
    tr.t.killed += kill_after(p, delay, t0)
    tr.check(home, printed_ids(out))
    tr.append(home, w.sc)


class Node:
    """keten node serving a home on a free port of 127.0.0.1."""

    def __init__(self, home):
        self.port = free_port()
        self.url = "tcp://127.0.0.1:%d" % self.port
        log = open(home + ".node.log", "ab")
        self.p = start([KETEN, "--home", home, "node", "--listen", self.url, "--interval", "3600"],
                       os.devnull, err=log)
        log.close()
        if not listening(self.port):
            stop(self.p, signal.SIGKILL)
            raise SetupError("keten node did not listen on %s" % self.url)


def sync_client(home, url, out, timeout=10):
    return start([KETEN, "--home", home, "sync", url, "--timeout", str(timeout)], out)


def synced(out):
    with open(out) as f:
        return f.read().startswith("synced from ")


def run_sync_client(tr, delay, rng):
    w = tr.w
    if not getattr(w, "node", None):  # one node for every trial of this kind
        w.node = Node(copy(w.big, os.path.join(T, "served")))
    home = tr.home(w.a, "a")
    out = home + ".out"
    t0 = time.monotonic()
    p = sync_client(home, w.node.url, out)
    if delay is None:
        return whole(timed(p, t0), synced(out), "sync")
    tr.t.killed += kill_after(p, delay, t0)
    tr.check(home, w.big_ids if synced(out) else [], part=w.big_ids)
    tr.resync(home, w.node.url)
    tr.append(home, w.al)


def run_sync_node(tr, delay, rng):
    w = tr.w
    served = tr.home(w.big, "big")
    home = tr.home(w.a, "a")
    node = Node(served)
    out = home + ".out"
    t0 = time.monotonic()
    c = sync_client(home, node.url, out, timeout=2)  # it waits that long for the killed node
    if delay is None:
        d = whole(timed(c, t0), synced(out), "sync")
        stop(node.p, signal.SIGTERM)
        return d
    tr.t.killed += kill_after(node.p, delay, t0, watch=c)
    timed(c, t0)
    tr.check(served, [])
    tr.check(home, w.big_ids if synced(out) else [], part=w.big_ids)
    again = Node(served)  # the killed node's home serves again
    tr.resync(home, again.url)
    stop(again.p, signal.SIGTERM)
    tr.append(served, w.sc)
    tr.append(home, w.al)


RUN = {"batch": run_batch, "import": run_import, "appends": run_appends, "sync-client": run_sync_client,
       "sync-node": run_sync_node}


def line(name, t):
    part = "" if t.partway is None else " (%d left the client with part of the node's entries)" % t.partway
    return ("%-12s %d trials, %d killed mid-work%s, %d acknowledged ids checked (and %d held before), "
            "%d lost, %d torn, %d verify failures, %d recovery failures" %
            (name, t.trials, t.killed, part, t.acked, t.before, t.lost, t.torn, t.verify, t.recovery))


def delay(rng, took):
    """Half the kills anywhere in the work, half near its end, where a
    batch, an import or a feed's entries are committed."""
    if rng.random() < 0.5:
        return rng.uniform(0.0, took)
    return rng.uniform(0.8 * took, 1.05 * took)


def campaign(n, seed):
    rng = random.Random(seed)
    world = World(os.path.join(T, "world"))
    # how long each kind's work takes uninterrupted: the delays are drawn below it
    took = {}
    for k in KINDS:
        took[k] = min(RUN[k](Trial(world, Tally(), k), None, rng) for _ in range(2))
    print("crash: %d trials, seed %d (repeat with SEED=%d); uninterrupted: %s" % (
        n, seed, seed, ", ".join("%s %.2f s" % (k, took[k]) for k in KINDS)), flush=True)
    tallies = {k: Tally() for k in KINDS}
    for i in range(n):
        k = KINDS[i % len(KINDS)]
        t = tallies[k]
        t.trials += 1
        RUN[k](Trial(world, t, "trial %d (%s)" % (i + 1, k)), delay(rng, took[k]), rng)
        shutil.rmtree(os.path.join(T, "trial"), ignore_errors=True)
    total = Tally()
    for k in KINDS:
        t = tallies[k]
        print(line(k, t))
        for note in t.notes[:10]:
            print("  # " + note)
        for f in ("trials", "killed", "acked", "before", "lost", "torn", "verify", "recovery"):
            setattr(total, f, getattr(total, f) + getattr(t, f))
    print(line("total", total) + (": FAILED" if total.bad() else ": ok"))
    return 1 if total.bad() else 0


def main():
    global T
    n = int(os.environ.get("N", "200"))
    seed = int(os.environ["SEED"]) if os.environ.get("SEED") else random.SystemRandom().randrange(1, 2**31)
    if not os.access(KETEN, os.X_OK):
        print("crash: no keten binary at %s (make, or KETEN=...)" % KETEN, file=sys.stderr)
        return 70
    os.environ["KETEN_PWHASH_FAST"] = "1"
    for v in ("KETEN_HOME", "KETEN_PASSPHRASE", "KETEN_MAPSIZE"):
        os.environ.pop(v, None)
    T = tempfile.mkdtemp(prefix="keten-crash.")
    try:
        return campaign(n, seed)
    except SetupError as e:
        print("crash: %s (seed %d)" % (e, seed), file=sys.stderr)
        return 70
    finally:
        cleanup()


def on_signal(sig, _frame):
    raise SystemExit(128 + sig)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    sys.exit(main())
