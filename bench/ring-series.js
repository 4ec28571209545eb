// The Float64 ring Series as it was before the compact history (16 B a point), compiled from
// src/core/history.ts at ff5b682: the baseline for the compact history micro-bench (bench/history.js).
"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Series = void 0;
const INITIAL = 4;
class Series {
    constructor(capacity) {
        this.capacity = capacity;
        this.start = 0;
        this.size = 0;
        this.slots = Math.min(INITIAL, capacity);
        this.data = new Float64Array(this.slots * 2);
    }
    get length() {
        return this.size;
    }
    /** Appends a point. Points arrive in time order (older readings are refused upstream). */
    push(ts, value) {
        if (this.size === this.slots && this.slots < this.capacity)
            this.grow();
        if (this.size < this.slots) {
            const i = ((this.start + this.size) % this.slots) * 2;
            this.data[i] = ts;
            this.data[i + 1] = value;
            this.size++;
            return;
        }
        const i = this.start * 2;
        this.data[i] = ts;
        this.data[i + 1] = value;
        this.start = (this.start + 1) % this.slots;
    }
    grow() {
        const slots = Math.min(this.capacity, this.slots * 2);
        const data = new Float64Array(slots * 2);
        for (let k = 0; k < this.size; k++) {
            const i = this.at(k) * 2;
            data[2 * k] = this.data[i];
            data[2 * k + 1] = this.data[i + 1];
        }
        this.data = data;
        this.slots = slots;
        this.start = 0;
    }
    at(k) {
        return (this.start + k) % this.slots;
    }
    tsAt(k) {
        return this.data[this.at(k) * 2];
    }
    point(k) {
        const i = this.at(k) * 2;
        return { ts: this.data[i], value: this.data[i + 1] };
    }
    /** Index of the first point with ts >= t (binary search; the ring is in time order). */
    lowerBound(t) {
        let lo = 0;
        let hi = this.size;
        while (lo < hi) {
            const mid = (lo + hi) >>> 1;
            if (this.tsAt(mid) < t)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }
    /** Points with from <= ts <= to, oldest first; with a limit, the newest `limit` of them. */
    range(from = -Infinity, to = Infinity, limit = Infinity) {
        const first = this.lowerBound(from);
        let end = this.lowerBound(to);
        while (end < this.size && this.tsAt(end) === to)
            end++;
        const begin = Math.max(first, end - limit);
        const out = [];
        for (let k = begin; k < end; k++)
            out.push(this.point(k));
        return out;
    }
    /** The latest point at or before t, or undefined. */
    valueAt(t) {
        let k = this.lowerBound(t);
        if (k < this.size && this.tsAt(k) === t) {
            while (k + 1 < this.size && this.tsAt(k + 1) === t)
                k++;
        }
        else {
            k -= 1;
        }
        if (k < 0)
            return undefined;
        return this.point(k);
    }
    /** Compact form for the snapshot: [ts0, v0, ts1, v1, ...], oldest first. */
    toJSON() {
        const out = new Array(this.size * 2);
        for (let k = 0; k < this.size; k++) {
            const i = this.at(k) * 2;
            out[2 * k] = this.data[i];
            out[2 * k + 1] = this.data[i + 1];
        }
        return out;
    }
    static fromJSON(capacity, flat) {
        const series = new Series(capacity);
        if (Array.isArray(flat)) {
            // Room for every stored point at once, instead of doubling up to it.
            const slots = Math.min(capacity, Math.max(series.slots, flat.length >> 1));
            if (slots > series.slots) {
                series.slots = slots;
                series.data = new Float64Array(slots * 2);
            }
            for (let k = 0; k + 1 < flat.length; k += 2) {
                const ts = flat[k];
                const value = flat[k + 1];
                if (typeof ts === "number" && typeof value === "number")
                    series.push(ts, value);
            }
        }
        return series;
    }
}
exports.Series = Series;
