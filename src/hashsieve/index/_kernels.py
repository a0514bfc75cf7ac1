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
    """Stable counting sort: ``positions`` gets the row order, ``offsets`` the bucket starts."""
    n = keys.shape[0]
    counts = np.zeros(nkeys + 1, np.int64)
    for i in range(n):
        counts[np.int64(keys[i]) + 1] += 1
    for k in range(nkeys):
        counts[k + 1] += counts[k]
    for k in range(nkeys + 1):
        offsets[k] = counts[k]
    for i in range(n):
        k = np.int64(keys[i])
        positions[counts[k]] = i
        counts[k] += 1


@njit(cache=True, nogil=True)
def gather_rows(src, order, dst):
    """``dst[i] = src[order[i]]`` for 2-D ``src`` (row gather without a big temporary)."""
    for i in range(order.shape[0]):
        o = order[i]
        for j in range(src.shape[1]):
            dst[i, j] = src[o, j]


#: How many candidates ahead the verify loop prefetches.
PREFETCH_AHEAD = 16


@njit(cache=True, nogil=True)
def mih_query(
    codes, offsets, pos, queries, row0, threshold, radius, bits, ntables, work, cand_t, out
):
    """Exact range query of a multi-index segment, one query at a time.

    ``codes`` are sorted by slot 0 (table 0's buckets are runs of ``codes``); ``pos[t - 1]`` lists
    the rows of table ``t`` bucket by bucket; ``offsets[t]`` are the bucket starts. A code within
    ``threshold`` has some slot within ``radius`` bits of the query's (pigeonhole, the caller makes
    ``ntables * (radius + 1) > threshold``), so probing every key within ``radius`` of each query
    slot finds it; it is reported only at the first table where that holds, so never twice.

    Random DRAM loads are the whole cost, so each query runs in passes that prefetch, then read
    what is by then in cache: (1) prefetch every probed bucket's offsets, (2) read the bucket
    bounds and prefetch the row lists, (3) gather candidate rows, (4) verify each candidate with
    four POPCNTs, prefetching ``PREFETCH_AHEAD`` candidates ahead.

    ``work`` is an int64 scratch array (``3 * probes + candidates`` long), ``cand_t`` an int8 one
    (``candidates`` long); ``out`` is a ``(3, cap)`` int64 array of (row, code row, distance).
    """
    nq = queries.shape[0]
    n = codes.shape[0]
    cap = out.shape[1]
    n_out = 0
    qslots = np.empty(ntables, np.uint64)
    nprobe_max = ntables * (1 + bits + bits * (bits - 1) // 2)
    probe = work[:nprobe_max]
    probe_lo = work[nprobe_max : 2 * nprobe_max]
    probe_hi = work[2 * nprobe_max : 3 * nprobe_max]
    cand = work[3 * nprobe_max :]
    ccap = min(cand.shape[0], cand_t.shape[0])
    codes_addr = codes.ctypes.data
    codes_stride = codes.strides[0]
    off_addr = offsets.ctypes.data
    off_row = offsets.shape[1]
    pos_addr = pos.ctypes.data
    flat_off = offsets.reshape(-1)
    for qi in range(nq):
        q0 = queries[qi, 0]
        q1 = queries[qi, 1]
        q2 = queries[qi, 2]
        q3 = queries[qi, 3]
        for t in range(ntables):
            qslots[t] = _slot(queries, qi, t, bits)
        # pass 1: every probed key (as a flat offsets index); prefetch its bucket bounds
        npr = 0
        for t in range(ntables):
            nk = _probe_keys(np.int64(qslots[t]), radius, bits, probe[npr:])
            row = t * off_row
            for pi in range(npr, npr + nk):
                probe[pi] += row
                _prefetch(off_addr + probe[pi] * 4)
            npr += nk
        # pass 2: bucket bounds; prefetch the row lists of tables >= 1
        nc = 0
        for pi in range(npr):
            f = probe[pi]
            lo = np.int64(flat_off[f])
            hi = np.int64(flat_off[f + 1])
            probe_lo[pi] = lo
            probe_hi[pi] = hi
            nc += hi - lo
            if f >= off_row:
                _prefetch(pos_addr + ((f // off_row - 1) * n + lo) * 4)
        if nc > ccap:
            return n_out, qi, 3 * nprobe_max + nc
        # pass 3: candidate rows
        nc = 0
        for pi in range(npr):
            lo = probe_lo[pi]
            hi = probe_hi[pi]
            t = probe[pi] // off_row
            if t == 0:
                for e in range(lo, hi):
                    cand[nc] = e
                    cand_t[nc] = 0
                    nc += 1
            else:
                for e in range(lo, hi):
                    cand[nc] = pos[t - 1, e]
                    cand_t[nc] = t
                    nc += 1
        # pass 4: verify
        start = n_out
        for ci in range(min(PREFETCH_AHEAD, nc)):
            _prefetch(codes_addr + cand[ci] * codes_stride)
        for ci in range(nc):
            if ci + PREFETCH_AHEAD < nc:
                _prefetch(codes_addr + cand[ci + PREFETCH_AHEAD] * codes_stride)
            p = cand[ci]
            d = _dist(codes, p, q0, q1, q2, q3)
            if d <= threshold:
                t = np.int64(cand_t[ci])
                dup = False
                for tp in range(t):
                    if np.int64(_ctpop(_slot(codes, p, tp, bits) ^ qslots[tp])) <= radius:
                        dup = True
                        break
                if not dup:
                    if n_out == cap:
                        return start, qi, -1
                    out[0, n_out] = qi + row0
                    out[1, n_out] = p
                    out[2, n_out] = d
                    n_out += 1
    return n_out, nq, 0


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
def _probe_keys(base, radius, bits, keys):
    """Fill ``keys`` with every key within ``radius`` (≤ 2) bits of ``base``; return the count."""
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
