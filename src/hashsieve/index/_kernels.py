"""Compiled kernels of the PDQ multi-index (numba, ``cache=True``, ``nogil=True``).

Codes are handled as ``(n, 4)`` little-endian uint64 words (a view of the ``(n, 32)`` bytes).
Bit ``i`` of a code is bit ``i % 64`` of word ``i // 64``; slot ``t`` of a table with ``bits``-bit
keys is bits ``[t * bits, (t + 1) * bits)``. Any fixed bit order is fine: Hamming distance does not
depend on it.

Every kernel is called from Python threads with the GIL released, one chunk of queries per call.
Results go to caller-owned buffers: a kernel returns ``(n_out, next_query, need)``; when a buffer is
too small it stops before query ``next_query`` (results before it are complete) and says how much
it needs, and the caller grows the buffer and resumes. (Growing arrays inside the hot loops made
numba's code about 15x slower, so no array is reassigned there.)
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_U64 = np.uint64


@intrinsic
def _ctpop(typingctx, x):
    """LLVM ``ctpop`` on a uint64 (one POPCNT instruction on x86-64)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)])
        return builder.call(fn, args)

    return sig, codegen


@intrinsic
def _prefetch(typingctx, addr):
    """``prefetcht0`` of the byte at address ``addr`` (a hint; never faults)."""
    sig = types.void(types.intp)

    def codegen(context, builder, signature, args):
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.inttoptr(args[0], i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


@njit(inline="always")
def _dist(codes, p, q0, q1, q2, q3):
    return np.int64(
        _ctpop(codes[p, 0] ^ q0)
        + _ctpop(codes[p, 1] ^ q1)
        + _ctpop(codes[p, 2] ^ q2)
        + _ctpop(codes[p, 3] ^ q3)
    )


@njit(inline="always")
def _slot(codes, p, t, bits):
    """Key of slot ``t`` (``bits`` wide) of code ``p``."""
    start = t * bits
    w = start >> 6
    off = start & 63
    v = codes[p, w] >> _U64(off)
    if off + bits > 64:
        v |= codes[p, w + 1] << _U64(64 - off)
    return v & ((_U64(1) << _U64(bits)) - _U64(1))


@njit(cache=True, nogil=True)
def slot_keys(codes, t, bits):
    """Slot ``t`` of every code, as uint32 keys."""
    n = codes.shape[0]
    out = np.empty(n, np.uint32)
    for i in range(n):
        out[i] = np.uint32(_slot(codes, i, t, bits))
    return out


@njit(cache=True, nogil=True)
def counting_sort(keys, nkeys, positions, offsets):
    """Stable counting sort of keys below ``nkeys`` (a power of two, as every table's is):
    ``positions`` gets the row order, ``offsets`` the bucket starts.

    In two passes, by the high half of the key's bits then, within each high bucket, by the low
    half: the same order as one pass over all ``nkeys`` buckets, but every scatter goes to a
    few thousand places at a time, which stay in cache. One pass at 10 M codes (22-bit keys)
    misses the cache on every count and every write: 1.85 s a table against 0.48."""
    n = keys.shape[0]
    bits = 0
    while (1 << bits) < nkeys:
        bits += 1
    low_bits = bits // 2
    nlow = 1 << low_bits
    nhigh = nkeys >> low_bits
    mask = np.uint32(nlow - 1)
    high = np.zeros(nhigh + 1, np.int64)
    for i in range(n):
        high[np.int64(keys[i] >> low_bits) + 1] += 1
    for h in range(nhigh):
        high[h + 1] += high[h]
    at = high.copy()
    rows = np.empty(n, np.uint32)  # rows grouped by the high bits, in their order
    lows = np.empty(n, np.uint32)  # and their keys' low bits, read in sequence below
    for i in range(n):
        k = keys[i]
        h = np.int64(k >> low_bits)
        j = at[h]
        rows[j] = i
        lows[j] = k & mask
        at[h] = j + 1
    low = np.empty(nlow + 1, np.int64)
    for h in range(nhigh):
        a, b = high[h], high[h + 1]
        low[:] = 0
        for j in range(a, b):
            low[np.int64(lows[j]) + 1] += 1
        start = a
        for k in range(nlow):
            count = low[k + 1]
            offsets[h * nlow + k] = start
            low[k] = start
            start += count
        for j in range(a, b):
            k = np.int64(lows[j])
            positions[low[k]] = rows[j]
            low[k] += 1
    offsets[nkeys] = n


@njit(cache=True, nogil=True)
def gather_rows(src, order, dst):
    """``dst[i] = src[order[i]]`` for 2-D ``src`` (row gather without a big temporary)."""
    for i in range(order.shape[0]):
        o = order[i]
        for j in range(src.shape[1]):
            dst[i, j] = src[o, j]


#: How many candidates ahead the verify loop prefetches.
PREFETCH_AHEAD = 16
#: Candidates of a batch are grouped by the 2 MB block of codes they read (2**16 rows of 32 B: one
#: huge page), so consecutive reads share TLB entries and page-table lines.
GROUP_SHIFT = 16
#: Low bits of a packed candidate: ``row << KEY_SHIFT | batch slot << 4 | table``.
KEY_SHIFT = 16
MAX_BATCH = 1 << (KEY_SHIFT - 4)


@njit(cache=True, nogil=True)
def _group_by_block(keys, tmp, n, nrows):
    """Counting sort of ``keys[:n]`` into ``tmp[:n]`` by the 2 MB block of codes each reads."""
    nb = max(1, (nrows + (1 << GROUP_SHIFT) - 1) >> GROUP_SHIFT)
    counts = np.zeros(nb + 1, np.int64)
    shift = KEY_SHIFT + GROUP_SHIFT
    for i in range(n):
        counts[(keys[i] >> shift) + 1] += 1
    for k in range(nb):
        counts[k + 1] += counts[k]
    for i in range(n):
        b = keys[i] >> shift
        tmp[counts[b]] = keys[i]
        counts[b] += 1


@njit(cache=True, nogil=True)
def mih_query(
    codes, offsets, pos, queries, row0, threshold, radii, bits, ntables, batch, work, out
):
    """Exact range query of a multi-index segment, ``batch`` queries at a time.

    ``codes`` are sorted by slot 0 (table 0's buckets are runs of ``codes``); ``pos[t - 1]`` lists
    the rows of table ``t`` bucket by bucket; ``offsets[t]`` are the bucket starts. A code within
    ``threshold`` has, in some table ``t``, a slot within ``radii[t]`` bits of the query's (the
    caller makes ``sum(radii + 1) > threshold``: pigeonhole; a table with radius -1 is not
    probed), so probing every key within ``radii[t]`` of each query slot finds it; it is reported
    only at the first table where that holds, so never twice.

    Random DRAM loads are the whole cost (at 100 M codes: ~33,000 candidates per query, each a
    read somewhere in 3.2 GB of codes), so: (1) prefetch every probed bucket's offsets, (2) read
    the bucket bounds and prefetch the row lists, (3) gather the candidates of ``batch`` queries,
    packed with their query and table, (4) group them by the 2 MB block of codes they read (one
    counting-sort pass: on a virtual machine an address-translation miss costs as much as the
    read, and a batch's candidates then hit each block's translation many times over), (5)
    verify each with four POPCNTs, prefetching ``PREFETCH_AHEAD`` ahead. Results are returned
    by query row, as one query at a time would give them.

    ``work`` is an int64 scratch array: ``3 * probes`` then two equal candidate areas; ``out``
    a ``(3, cap)`` int64 array of (row, code row, distance). Returns ``(n_out, next_query,
    need)``: ``need > 0`` when one query alone has more candidates than ``work`` holds (the
    ``work`` size it needs), ``need < 0`` when ``out`` is full; results before ``next_query``
    are complete.
    """
    nq = queries.shape[0]
    n = codes.shape[0]
    cap = out.shape[1]
    n_out = 0
    batch = max(1, min(batch, MAX_BATCH))
    qslots = np.empty((batch, ntables), np.uint64)
    nprobe_max = 0
    for t in range(ntables):
        nprobe_max += _n_keys(radii[t], bits)
    probe = work[:nprobe_max]
    probe_lo = work[nprobe_max : 2 * nprobe_max]
    probe_hi = work[2 * nprobe_max : 3 * nprobe_max]
    ccap = (work.shape[0] - 3 * nprobe_max) // 2
    cand = work[3 * nprobe_max : 3 * nprobe_max + ccap]
    grouped = work[3 * nprobe_max + ccap : 3 * nprobe_max + 2 * ccap]
    codes_addr = codes.ctypes.data
    codes_stride = codes.strides[0]
    off_addr = offsets.ctypes.data
    off_row = offsets.shape[1]
    pos_addr = pos.ctypes.data
    flat_off = offsets.reshape(-1)
    qi = 0
    while qi < nq:
        b0 = qi
        nc = 0
        while qi < nq and qi - b0 < batch:
            qb = qi - b0
            for t in range(ntables):
                qslots[qb, t] = _slot(queries, qi, t, bits)
            # pass 1: every probed key (as a flat offsets index); prefetch its bucket bounds
            npr = 0
            for t in range(ntables):
                nk = _probe_keys(np.int64(qslots[qb, t]), radii[t], bits, probe[npr:])
                row = t * off_row
                for pi in range(npr, npr + nk):
                    probe[pi] += row
                    _prefetch(off_addr + probe[pi] * 4)
                npr += nk
            # pass 2: bucket bounds; prefetch the row lists of tables >= 1
            ncq = 0
            for pi in range(npr):
                f = probe[pi]
                lo = np.int64(flat_off[f])
                hi = np.int64(flat_off[f + 1])
                probe_lo[pi] = lo
                probe_hi[pi] = hi
                ncq += hi - lo
                if f >= off_row and hi > lo:
                    _prefetch(pos_addr + ((f // off_row - 1) * n + lo) * 4)
            if nc + ncq > ccap:
                if qb == 0:
                    return n_out, qi, 3 * nprobe_max + 2 * ncq
                break  # verify this batch; the next one starts at this query
            # pass 3: candidate rows, packed with the query's slot in the batch and the table
            tag = qb << 4
            for pi in range(npr):
                lo = probe_lo[pi]
                hi = probe_hi[pi]
                t = probe[pi] // off_row
                if t == 0:
                    for e in range(lo, hi):
                        cand[nc] = (e << KEY_SHIFT) | tag
                        nc += 1
                else:
                    for e in range(lo, hi):
                        cand[nc] = (np.int64(pos[t - 1, e]) << KEY_SHIFT) | tag | t
                        nc += 1
            qi += 1
        # pass 4: group by block of codes (one query's candidates gain little from it)
        keys = cand
        if qi - b0 > 1:
            _group_by_block(cand, grouped, nc, n)
            keys = grouped
        # pass 5: verify
        start = n_out
        for ci in range(min(PREFETCH_AHEAD, nc)):
            _prefetch(codes_addr + (keys[ci] >> KEY_SHIFT) * codes_stride)
        for ci in range(nc):
            if ci + PREFETCH_AHEAD < nc:
                _prefetch(codes_addr + (keys[ci + PREFETCH_AHEAD] >> KEY_SHIFT) * codes_stride)
            key = keys[ci]
            p = key >> KEY_SHIFT
            qb = (key >> 4) & (MAX_BATCH - 1)
            q = b0 + qb
            d = _dist(codes, p, queries[q, 0], queries[q, 1], queries[q, 2], queries[q, 3])
            if d <= threshold:
                t = key & 15
                dup = False
                for tp in range(t):
                    dt = np.int64(_ctpop(_slot(codes, p, tp, bits) ^ qslots[qb, tp]))
                    if dt <= radii[tp]:
                        dup = True
                        break
                if not dup:
                    if n_out == cap:
                        return start, b0, -1
                    out[0, n_out] = q + row0
                    out[1, n_out] = p
                    out[2, n_out] = d
                    n_out += 1
        if n_out - start > 1 and qi - b0 > 1:
            _order_by_row(out, start, n_out)
    return n_out, nq, 0


@njit(cache=True, nogil=True)
def _order_by_row(out, start, stop):
    """Stable sort of ``out[:, start:stop]`` by query row (a batch's hits are few)."""
    order = np.argsort(out[0, start:stop], kind="mergesort")
    for r in range(3):
        vals = out[r, start:stop].copy()
        for i in range(order.shape[0]):
            out[r, start + i] = vals[order[i]]


@njit(cache=True, nogil=True)
def flat_query(codes, queries, row0, threshold, out):
    """Exact range query by a linear scan (any threshold); same protocol as :func:`mih_query`."""
    n = codes.shape[0]
    nq = queries.shape[0]
    cap = out.shape[1]
    n_out = 0
    for qi in range(nq):
        q0 = queries[qi, 0]
        q1 = queries[qi, 1]
        q2 = queries[qi, 2]
        q3 = queries[qi, 3]
        start = n_out
        for p in range(n):
            d = _dist(codes, p, q0, q1, q2, q3)
            if d <= threshold:
                if n_out == cap:
                    return start, qi, -1
                out[0, n_out] = qi + row0
                out[1, n_out] = p
                out[2, n_out] = d
                n_out += 1
    return n_out, nq, 0


@njit(inline="always")
def _n_keys(radius, bits):
    """How many keys lie within ``radius`` (-1 .. 2) bits of a ``bits``-wide key."""
    if radius < 0:
        return 0
    if radius == 0:
        return 1
    if radius == 1:
        return 1 + bits
    return 1 + bits + bits * (bits - 1) // 2


@njit(inline="always")
def _probe_keys(base, radius, bits, keys):
    """Fill ``keys`` with every key within ``radius`` (-1 .. 2) bits of ``base``; return the
    count (none for -1: the table is not probed)."""
    if radius < 0:
        return 0
    nk = 0
    keys[nk] = base
    nk += 1
    if radius >= 1:
        for i in range(bits):
            k = base ^ (1 << i)
            keys[nk] = k
            nk += 1
            if radius >= 2:
                for j in range(i + 1, bits):
                    keys[nk] = k ^ (1 << j)
                    nk += 1
    return nk
