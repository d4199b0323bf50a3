#!/usr/bin/python3
# bench/control-cost.py BUILD_DIR [--setups N] [--round-trips N]: what one
# control-plane operation costs a back-end, counted rather than timed.
#
# bench/run.py times round trips and device setups, and on a 2-CPU virtual
# machine those times move by a third from run to run (the host moves the
# processes between CPUs; every wake-up is an interrupt between virtual
# CPUs). The counts here do not move with the machine's load, so a change
# to the control plane can be judged on a busy machine too:
#   instructions   executed in the back-end's user space per operation
#                  (valgrind's callgrind, counting only while the operations
#                  run: start-up and warm-up are left out)
#   syscalls       made by the back-end per operation, all threads
#                  (strace -f -c), and the five it makes most
# for GET_FEATURES round trips and for whole 2-queue device setups as QEMU
# orders them, with and without the in-flight area (bench/control-plane:
# the same libc-only front-end for every back-end), against our example
# in its main loop and against qemu-storage-daemon 7.2 where installed.
# Each figure is the median of --runs runs.
#
# What still moves: valgrind and strace slow the back-end, and whether the
# next request is already in the socket when a reply goes out (one
# recvmsg, no poll) depends on that, so a round trip's counts move by up
# to a half from run to run; a setup's by a few percent.
# qemu-storage-daemon polls adaptively before it sleeps, so its counts
# include spinning, as much as the timing allowed: between runs its setup's
# instructions move by up to half as well. Compare ours with ours (before
# and after a change), and use qemu-storage-daemon's as an order of
# magnitude.
#
# Needs valgrind and strace (Debian packages of those names).
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import argparse, os, re, shutil, signal, statistics, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument('build')
ap.add_argument('--setups', type=int, default=100)
ap.add_argument('--round-trips', type=int, default=5000)
ap.add_argument('--runs', type=int, default=3)
args = ap.parse_args()

build = os.path.abspath(args.build)
blk = f'{build}/examples/vhost-user-blk'
ctl = f'{build}/bench/control-plane'
qsd = shutil.which('qemu-storage-daemon')
for tool in ('valgrind', 'strace', 'callgrind_control'):
    if shutil.which(tool) is None:
        sys.exit(f'{tool} is not installed (Debian packages valgrind and strace)')
tmp = tempfile.mkdtemp(prefix='vhost-user-cost-', dir='/dev/shm')
image = f'{tmp}/disk.img'
with open(image, 'wb') as f:
    f.truncate(64 << 20)

# ours sleeping as soon as a request is answered: by default the example
# polls its socket for 50 us, and what that spinning counts depends on
# the timing, not on the code
backends = [('ours', [blk, '--socket', 'SOCK', '--image', image, '--queues', '2', '--quiet',
                      '--control-poll-us', '0'])]
if qsd:
    backends.append(('qsd', [qsd, '--blockdev', f'driver=file,node-name=f0,filename={image},locking=off',
                             '--export', 'type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,'
                             'addr.path=SOCK,writable=on,num-queues=2']))
else:
    print('# qemu-storage-daemon is not installed (Debian package qemu-system-common): ours only')
figures = [('rtt', '--rtt', args.round_trips), ('setup', '--setup', args.setups),
           ('setup like-for-like', '--setup-no-inflight', args.setups)]


def run_ctl(flag, n, sock):
    subprocess.run([ctl, flag, str(n), sock], check=True, stdout=subprocess.DEVNULL)


def start(wrapper, argv, sock):
    p = subprocess.Popen(wrapper + [a.replace('SOCK', sock) for a in argv],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        if os.path.exists(sock):
            return p
        time.sleep(0.1)
    p.kill()
    sys.exit(f'{argv[0]} did not listen under {wrapper[0]}')


def stop(p, sock, traced=False):
    # strace leaves its tracee running when it is interrupted: the
    # back-end is the one to stop, and strace then exits with it
    pid = int(open(f'/proc/{p.pid}/task/{p.pid}/children').read().split()[0]) if traced else p.pid
    os.kill(pid, signal.SIGINT)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    # a back-end killed leaves its socket file, and the next one listens there
    if os.path.exists(sock):
        os.unlink(sock)


def warm_up(sock):
    # the first connections fault in the libraries and the allocator's
    # arenas: not what an operation costs
    run_ctl('--setup', 5, sock)
    run_ctl('--rtt', 1000, sock)


def instructions(argv, flag, n):
    sock, out = f'{tmp}/cg.sock', f'{tmp}/cg.out'
    p = start(['valgrind', '--tool=callgrind', '--instr-atstart=no', f'--callgrind-out-file={out}'],
              argv, sock)
    warm_up(sock)
    subprocess.run(['callgrind_control', '-i', 'on', str(p.pid)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    run_ctl(flag, n, sock)
    subprocess.run(['callgrind_control', '-i', 'off', str(p.pid)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    stop(p, sock)
    total = 0
    for name in os.listdir(tmp):
        # one file per thread or dump; "totals" counts what ran while
        # instrumented ("summary" is 0 once instrumentation is off)
        if name.startswith('cg.out'):
            m = re.search(r'^totals: (\d+)', open(f'{tmp}/{name}').read(), re.M)
            total += int(m.group(1)) if m else 0
            os.unlink(f'{tmp}/{name}')
    return total / n


def syscalls(argv, flag, n):
    sock, out = f'{tmp}/st.sock', f'{tmp}/st.out'
    # counted for the warm-up alone, then for warm-up and operations: the
    # difference is the operations'
    counts = []
    for ops in (0, n):
        p = start(['strace', '-f', '-c', '-o', out], argv, sock)
        warm_up(sock)
        if ops:
            run_ctl(flag, ops, sock)
        stop(p, sock, traced=True)
        calls = {}
        for line in open(out):
            f = line.split()
            # "% time seconds usecs/call calls [errors] syscall"
            if len(f) >= 5 and re.fullmatch(r'[\d.]+', f[0]) and f[-1] != 'total':
                calls[f[-1]] = int(f[3])
        counts.append(calls)
    per_op = {k: (counts[1].get(k, 0) - counts[0].get(k, 0)) / n for k in counts[1]}
    return sum(per_op.values()), sorted(per_op.items(), key=lambda kv: -kv[1])[:5]


rows = {}
for name, argv in backends:
    for label, flag, n in figures:
        ins = statistics.median(instructions(argv, flag, n) for _ in range(args.runs))
        counted = [syscalls(argv, flag, n) for _ in range(args.runs)]
        total = statistics.median(c[0] for c in counted)
        rows[(name, label)] = (ins, total, next(c[1] for c in counted if c[0] == total))

print(f'back-end cost per operation ({args.round_trips} round trips, {args.setups} setups, '
      f'medians of {args.runs} runs; user-space instructions from callgrind, syscalls from strace -f)')
print(f'{"figure":<22}{"back-end":<10}{"instructions":>14}{"syscalls":>10}   most made')
for label, _, _ in figures:
    for name, _ in backends:
        ins, total, top = rows[(name, label)]
        most = ', '.join(f'{k} {v:.1f}' for k, v in top if v >= 0.05)
        print(f'{label:<22}{name:<10}{ins:>14,.0f}{total:>10.1f}   {most}')
    if qsd:
        ours, theirs = rows[('ours', label)], rows[('qsd', label)]
        print(f'{"":<22}{"ours/qsd":<10}{ours[0] / theirs[0]:>14.2f}x{ours[1] / theirs[1]:>9.2f}x')
shutil.rmtree(tmp, ignore_errors=True)
