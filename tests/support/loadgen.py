"""Many vending clients at once (separate processes): the concurrency test and bench/vend.py.

Each client opens the station itself (own engine, own key decryption), waits at a barrier so
all start together, sells its planned (meter, amount, ref) list and reports what it got.
"""

import multiprocessing
import time


def _client(home, plan, barrier, results):
    try:
        _sell_plan(home, plan, barrier, results)
    except BaseException as error:  # report it, so the parent never waits for a dead client
        barrier.abort()
        results.put(
            (0.0, 0.0, 0.0, [("-", "-", "-", None, None, None, f"client died: {error!r}")])
        )
        raise


def _sell_plan(home, plan, barrier, results):
    from host_tools.vending import StationError, vend
    from host_tools.vending.station import Station

    station = Station(home)
    _ = station.key  # decrypt before the clock starts
    out = []
    barrier.wait()
    start, cpu_start = time.perf_counter(), time.process_time()
    for meter, amount, ref in plan:
        try:
            r = vend.sell(station, meter, amount, ref, "cash", "load")
            out.append((ref, meter, amount, r["token"], r["tid"], r["receipt"], None))
        except StationError as error:
            out.append((ref, meter, amount, None, None, None, str(error)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    station.close()
    results.put((start, start + elapsed, cpu, out))


def run_clients(home, plans, timeout=300):
    """Run one process per plan; returns (wall seconds, [result tuples], client CPU seconds).

    The wall and CPU times cover the selling only (not start-up and key decryption).
    Result tuple: (ref, meter, amount, token, tid, receipt, error or None).
    """
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(len(plans))
    results = ctx.Queue()
    procs = [ctx.Process(target=_client, args=(home, plan, barrier, results)) for plan in plans]
    for proc in procs:
        proc.start()
    gathered = [results.get(timeout=timeout) for _ in procs]
    for proc in procs:
        proc.join(timeout)
        if proc.exitcode != 0:
            raise RuntimeError(f"vending client exited with {proc.exitcode}")
    wall = max(g[1] for g in gathered) - min(g[0] for g in gathered)
    return wall, [row for g in gathered for row in g[3]], sum(g[2] for g in gathered)
