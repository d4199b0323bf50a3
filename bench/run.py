#!/usr/bin/python3
# bench/run.py BUILD_DIR [--seconds S] [--rounds N] [--chart PNG]: every
# figure of the README's benchmark table in one run, side by side.
#
# Back-ends, each serving the same 64 MiB image in /dev/shm with 2 queues:
#   ours            examples/vhost-user-blk --image, in its main loop
#   ours -T         the same with --queue-threads (a thread per ring)
#   ours -t         the same with --threaded (a thread per connection)
#   qsd             qemu-storage-daemon 7.2, aio=threads (its default)
#   qsd io_uring    qemu-storage-daemon with aio=io_uring
#   ours sleeping   the main loop with --control-poll-us 0: it sleeps as soon
#                   as a request is answered (the example polls its socket
#                   for 50 us by default, as qemu-storage-daemon polls before
#                   it sleeps)
# and for the polling rows ours with --queue-threads --poll-us 50 (rings
# and socket polled) and qemu-storage-daemon in an iothread (which polls,
# adaptively, by default).
#
# Figures (one front-end for all, none of it the library's back-end code):
#   rtt       GET_FEATURES round trips on one connection (bench/control-plane),
#             and a raw AF_UNIX echo of the same sizes: the floor
#   setup     a whole 2-queue device setup as QEMU orders it, connect to close
#             (with the in-flight area where a back-end offers one, as QEMU
#             takes it: ours does, qemu-storage-daemon does not)
#   setup like-for-like   the same without the in-flight area: the requests
#             qemu-storage-daemon gets, for every back-end
#   qd1       4 KiB reads at queue depth 1, interrupt mode: IOPS, p50
#   qd1 poll  the same with the driver spinning on its used ring and the
#             back-end polling: p50
#   rtt poll, setup poll, setup l-f-l poll   the same against the polling
#             back-ends
#   qd32 r/w  4 KiB reads, then writes, 32 in flight: IOPS
#   128k      128 KiB reads, 8 in flight: MB/s
# and beside each I/O figure the back-end's CPU time per I/O (user+system,
# from /proc), so that speed bought with a second CPU shows.
#
# Rounds are interleaved (every figure of every back-end, then again) and
# each cell is the median of the rounds. No thresholds: it prints.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import argparse, os, re, shutil, signal, statistics, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument('build')
ap.add_argument('--seconds', type=float, default=2.0)
ap.add_argument('--rounds', type=int, default=3)
ap.add_argument('--chart', help='write a PNG chart here (needs gnuplot)')
args = ap.parse_args()

build = os.path.abspath(args.build)
blk = f'{build}/examples/vhost-user-blk'
client = f'{build}/examples/vhost-user-blk-client'
ctl = f'{build}/bench/control-plane'
qsd = shutil.which('qemu-storage-daemon')
tick = os.sysconf('SC_CLK_TCK')
tmp = tempfile.mkdtemp(prefix='vhost-user-bench-', dir='/dev/shm')
image = f'{tmp}/disk.img'
with open(image, 'wb') as f:
    f.truncate(64 << 20)
procs = []


def cpu_seconds(pid):
    """user+system seconds of a process and its threads"""
    fields = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick


def start(name, argv):
    sock = f'{tmp}/{len(procs)}.sock'
    p = subprocess.Popen([a.replace('SOCK', sock) for a in argv], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    procs.append(p)
    for _ in range(100):
        if os.path.exists(sock):
            return (name, sock, p.pid)
        time.sleep(0.1)
    sys.exit(f'{name} did not listen')


def qsd_argv(extra_blockdev='', iothread=False):
    argv = [qsd]
    if iothread:
        argv += ['--object', 'iothread,id=io0']
    argv += ['--blockdev', f'driver=file,node-name=f0,filename={image},locking=off{extra_blockdev}',
             '--export', 'type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=SOCK,'
             'writable=on,num-queues=2' + (',iothread=io0' if iothread else '')]
    return argv


ours = [blk, '--socket', 'SOCK', '--image', image, '--queues', '2', '--quiet']
backends = [start('ours', ours), start('ours -T', ours + ['--queue-threads']),
            start('ours -t', ours + ['--threaded']), start('ours sleeping', ours + ['--control-poll-us', '0'])]
if qsd:
    backends += [start('qsd', qsd_argv()), start('qsd io_uring', qsd_argv(',aio=io_uring'))]
else:
    print('# qemu-storage-daemon is not installed (Debian package qemu-system-common): ours only')
pollers = [start('ours poll', ours + ['--queue-threads', '--poll-us', '50'])]
if qsd:
    pollers.append(start('qsd poll', qsd_argv(',aio=io_uring', iothread=True)))


def run(argv):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    line = [l for l in out.stdout.splitlines() if l.startswith('bench:')]
    if out.returncode != 0 or not line:
        sys.exit(f'{" ".join(argv)} failed: {out.stdout}{out.stderr}')
    return line[-1]


def io(sock, pid, *opts):
    c0 = cpu_seconds(pid)
    line = run([client, '--bench', str(args.seconds), '--count', '65536', *opts, sock])
    cpu = cpu_seconds(pid) - c0
    n = int(re.search(r'bench: (\d+) ', line).group(1))
    return {'iops': float(re.search(r': ([\d.]+) IOPS', line).group(1)),
            'mbs': float(re.search(r'([\d.]+) MiB/s', line).group(1)) * 1.048576,
            'p50': float(re.search(r'p50 (\d+) us', line).group(1)),
            'cpu': cpu * 1e6 / max(n, 1)}


def us(line):
    return float(re.search(r'median ([\d.]+) us', line).group(1))


def control(sock, pid, *opts):
    """a control-plane figure, and the back-end's CPU time per operation"""
    n = int(opts[1])
    c0 = cpu_seconds(pid)
    v = us(run([ctl, *opts, sock]))
    return {'v': v, 'cpu': (cpu_seconds(pid) - c0) * 1e6 / n}


# name, unit, higher is better, what to run on a back-end -> value (and cpu/io)
figures = [
    ('rtt', 'us', False, lambda s, p: control(s, p, '--rtt', '20000')),
    ('setup', 'us', False, lambda s, p: control(s, p, '--setup', '200')),
    ('setup like-for-like', 'us', False, lambda s, p: control(s, p, '--setup-no-inflight', '200')),
    ('qd1', 'IOPS', True, lambda s, p: (lambda r: {'v': r['iops'], 'cpu': r['cpu'], 'p50': r['p50']})(
        io(s, p, '--io-size', '8'))),
    ('qd32 read', 'IOPS', True, lambda s, p: (lambda r: {'v': r['iops'], 'cpu': r['cpu']})(
        io(s, p, '--io-size', '8', '--queue-depth', '32'))),
    ('qd32 write', 'IOPS', True, lambda s, p: (lambda r: {'v': r['iops'], 'cpu': r['cpu']})(
        io(s, p, '--io-size', '8', '--queue-depth', '32', '--bench-write'))),
    ('128k read', 'MB/s', True, lambda s, p: (lambda r: {'v': r['mbs'], 'cpu': r['cpu']})(
        io(s, p, '--io-size', '256', '--queue-depth', '8'))),
]
# against back-ends that poll instead of sleeping (ours: its rings and its
# socket; qsd: an iothread, which polls adaptively)
poll_figures = [
    ('qd1 poll p50', 'us', False, lambda s, p: (lambda r: {'v': r['p50'], 'cpu': r['cpu']})(
        io(s, p, '--io-size', '8', '--busy-poll'))),
    ('rtt poll', 'us', False, lambda s, p: control(s, p, '--rtt', '20000')),
    ('setup poll', 'us', False, lambda s, p: control(s, p, '--setup', '200')),
    ('setup l-f-l poll', 'us', False, lambda s, p: control(s, p, '--setup-no-inflight', '200')),
]

results = {}   # (figure, backend) -> [samples]
echo = []
try:
    for r in range(args.rounds):
        echo.append(us(run([ctl, '--echo', '20000'])))
        for name, unit, _, fn in figures:
            for b, sock, pid in backends:
                results.setdefault((name, b), []).append(fn(sock, pid))
        for name, unit, _, fn in poll_figures:
            for b, sock, pid in pollers:
                results.setdefault((name, b), []).append(fn(sock, pid))
        print(f'# round {r + 1} of {args.rounds} done', flush=True)
finally:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait()
    shutil.rmtree(tmp, ignore_errors=True)


def cell(name, b):
    samples = results.get((name, b))
    if not samples:
        return None
    v = statistics.median(s['v'] for s in samples)
    cpu = statistics.median(s['cpu'] for s in samples) if 'cpu' in samples[0] else None
    p50 = statistics.median(s['p50'] for s in samples) if 'p50' in samples[0] else None
    return v, cpu, p50


def fmt(c, unit):
    if c is None:
        return '-'
    v, cpu, p50 = c
    s = f'{v:,.0f}' if v >= 100 else f'{v:.1f}'
    if p50 is not None:
        s += f' (p50 {p50:.0f} us)'
    if cpu is not None:
        s += f', {cpu:.1f} us CPU/op'
    return s


names = [b for b, _, _ in backends]
print(f'\n{"figure":<26}' + ''.join(f'{n:>38}' for n in names) + '   ours best / qsd best')
echo_us = statistics.median(echo)
chart = []
poll_names = [f[0] for f in poll_figures]
for name, unit, higher, _ in figures + poll_figures:
    cols = names if name not in poll_names else [b for b, _, _ in pollers]
    cells = {b: cell(name, b) for b in cols}
    best = (max if higher else min)
    o = [c[0] for b, c in cells.items() if c and b.startswith('ours')]
    q = [c[0] for b, c in cells.items() if c and b.startswith('qsd')]
    ratio = ''
    if o and q:
        ratio = f'{best(o) / best(q):.2f}x' + (' (higher is better)' if higher else ' (lower is better)')
        chart.append((name, best(q) / best(o) if not higher else best(o) / best(q)))
    row = ''.join(f'{fmt(cells[b], unit):>38}' for b in cols)
    if name in poll_names:
        row = ''.join(f'{b + ": " + fmt(cells[b], unit):>38}' for b in cols)
    print(f'{name + " (" + unit + ")":<26}{row}   {ratio}')

def best_rtt(prefix):
    cells = [cell(f, b) for f in ('rtt', 'rtt poll') for b in names + [b for b, _, _ in pollers]
             if b.startswith(prefix)]
    cells = [c for c in cells if c]
    return min(c[0] for c in cells) if cells else None


if best_rtt('ours'):
    print(f'\nraw AF_UNIX echo: {echo_us:.2f} us per round trip; GET_FEATURES round trips, best of each, '
          f'at the raw socket\'s speed times: ours {echo_us / best_rtt("ours"):.2f}, ours sleeping '
          f'{echo_us / cell("rtt", "ours sleeping")[0]:.2f}'
          + (f', qemu-storage-daemon {echo_us / best_rtt("qsd"):.2f}' if best_rtt('qsd') else ''))

if args.chart and chart:
    if not shutil.which('gnuplot'):
        print('# no chart: gnuplot is not installed (Debian package gnuplot-nox)')
    else:
        data = f'{tmp}.dat'
        with open(data, 'w') as f:
            for name, v in chart:
                f.write(f'"{name}" {v:.3f}\n')
        script = f'''set terminal pngcairo size 960,480 font "sans,11"
set output "{args.chart}"
set title "vhost-user-glib's blk example vs qemu-storage-daemon (best of each; >1: ours is faster)"
set style fill solid 0.8
set boxwidth 0.6
set yrange [0:*]
set grid ytics
set ylabel "speed relative to qemu-storage-daemon"
set xtics rotate by -30 left
set bmargin 7
plot "{data}" using 2:xtic(1) with boxes notitle lc rgb "#3465a4", 1 with lines lc rgb "#cc0000" title "qemu-storage-daemon"
'''
        subprocess.run(['gnuplot'], input=script, text=True, check=True)
        os.unlink(data)
        print(f'# chart written to {args.chart}')
