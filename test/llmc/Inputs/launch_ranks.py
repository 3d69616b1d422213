"""Starts a command as the processes of a job, the way torchrun does.

    launch_ranks.py N [--only R,...] [--timeout S] -- COMMAND ARG...

Each process gets torchrun's environment: WORLD_SIZE=N, RANK, LOCAL_RANK
(= RANK: one host), LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1 and a
MASTER_PORT of its own per job. --only starts just those ranks (a job
whose other processes never come). The exit status is the first nonzero
one of the processes (124 for one killed after --timeout seconds).
"""
import os
import subprocess
import sys


def main(argv):
    if "--" not in argv:
        sys.exit("usage: launch_ranks.py N [--only R,...] [--timeout S] -- COMMAND ...")
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1:]
    n = int(options[0])
    only = list(range(n))
    timeout = 120.0
    i = 1
    while i < len(options):
        if options[i] == "--only":
            only = [int(r) for r in options[i + 1].split(",")]
        elif options[i] == "--timeout":
            timeout = float(options[i + 1])
        i += 2
    port = str(20000 + os.getpid() % 20000)
    processes = []
    for rank in only:
        env = dict(os.environ, WORLD_SIZE=str(n), RANK=str(rank),
                   LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(n),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        processes.append(subprocess.Popen(command, env=env))
    status = 0
    for p in processes:
        try:
            code = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            code = 124
        if code and not status:
            status = code
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
