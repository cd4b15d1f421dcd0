"""``$now`` and ``$today`` for imported n8n expressions: a small stand-in for n8n's Luxon DateTime.

Supported (what published n8n workflows use): ``toISO()``, ``toISODate()``, ``toMillis()``,
``toSeconds()``, ``toString()``, ``year``/``month``/``day``/``hour``/``minute``/``second``/
``millisecond``/``weekday``, ``plus()``/``minus()`` with years, months, weeks, days, hours, minutes,
seconds, milliseconds, ``startOf()``/``endOf()`` (year, month, week, day, hour, minute), and
``toFormat()``/``format()`` with the tokens yyyy yy MM M dd d HH H mm m ss s SSS and 'quoted text'.
Any other method or token throws, so a run never computes something else. Dates are in the
workflow's timezone at its offset when the run starts (a DST change in a ``plus`` is not followed).
"""

from __future__ import annotations

PRELUDE = r"""
(function () {
  const nowMs = globalThis.__cf_now_ms, offMin = globalThis.__cf_offset_min || 0, utc = !!globalThis.__cf_utc;
  delete globalThis.__cf_now_ms; delete globalThis.__cf_offset_min; delete globalThis.__cf_utc;
  const pad = (n, w) => String(Math.trunc(Math.abs(n))).padStart(w || 2, "0");
  const MS = { milliseconds: 1, seconds: 1e3, minutes: 6e4, hours: 36e5, days: 864e5, weeks: 6048e5 };
  const unit = (u) => { const s = String(u); return s.endsWith("s") ? s : s + "s"; };
  class CfDateTime {
    constructor(ms) { this.ts = ms; this.d = new Date(ms + offMin * 6e4); }
    get year() { return this.d.getUTCFullYear(); }
    get month() { return this.d.getUTCMonth() + 1; }
    get day() { return this.d.getUTCDate(); }
    get hour() { return this.d.getUTCHours(); }
    get minute() { return this.d.getUTCMinutes(); }
    get second() { return this.d.getUTCSeconds(); }
    get millisecond() { return this.d.getUTCMilliseconds(); }
    get weekday() { return ((this.d.getUTCDay() + 6) % 7) + 1; }
    toMillis() { return this.ts; }
    toSeconds() { return this.ts / 1000; }
    valueOf() { return this.ts; }
    offset() { return (offMin < 0 ? "-" : "+") + pad(offMin / 60) + ":" + pad(offMin % 60); }
    toISODate() { return this.year + "-" + pad(this.month) + "-" + pad(this.day); }
    toISO() {
      return this.toISODate() + "T" + pad(this.hour) + ":" + pad(this.minute) + ":" + pad(this.second) +
        "." + pad(this.millisecond, 3) + (utc ? "Z" : this.offset());
    }
    toString() { return this.toISO(); }
    toJSON() { return this.toISO(); }
    fromLocal(y, mo, d, h, mi, s, ms) { return new CfDateTime(Date.UTC(y, mo, d, h, mi, s, ms) - offMin * 6e4); }
    shift(values, sign) {
      let t = this;
      for (const [key, raw] of Object.entries(values || {})) {
        const u = unit(key), n = Number(raw) * sign;
        if (u === "years" || u === "months") {
          const months = u === "years" ? n * 12 : n;
          const target = t.month - 1 + months;
          const y = t.year + Math.floor(target / 12), mo = ((target % 12) + 12) % 12;
          const last = new Date(Date.UTC(y, mo + 1, 0)).getUTCDate();
          t = t.fromLocal(y, mo, Math.min(t.day, last), t.hour, t.minute, t.second, t.millisecond);
        } else if (u in MS) {
          t = new CfDateTime(t.ts + n * MS[u]);
        } else {
          throw new Error("$now." + (sign > 0 ? "plus" : "minus") + ": unit '" + key + "' is not supported in ConnectFlow");
        }
      }
      return t;
    }
    plus(v) { return typeof v === "number" ? new CfDateTime(this.ts + v) : this.shift(v, 1); }
    minus(v) { return typeof v === "number" ? new CfDateTime(this.ts - v) : this.shift(v, -1); }
    startOf(u) {
      const s = unit(u);
      if (s === "years") return this.fromLocal(this.year, 0, 1, 0, 0, 0, 0);
      if (s === "months") return this.fromLocal(this.year, this.month - 1, 1, 0, 0, 0, 0);
      if (s === "weeks") return this.fromLocal(this.year, this.month - 1, this.day - (this.weekday - 1), 0, 0, 0, 0);
      if (s === "days") return this.fromLocal(this.year, this.month - 1, this.day, 0, 0, 0, 0);
      if (s === "hours") return this.fromLocal(this.year, this.month - 1, this.day, this.hour, 0, 0, 0);
      if (s === "minutes") return this.fromLocal(this.year, this.month - 1, this.day, this.hour, this.minute, 0, 0);
      throw new Error("$now.startOf('" + u + "') is not supported in ConnectFlow");
    }
    endOf(u) { return this.startOf(u).plus({ [unit(u)]: 1 }).minus(1); }
    toFormat(fmt) {
      const tokens = { yyyy: () => pad(this.year, 4), yy: () => pad(this.year % 100), MM: () => pad(this.month),
        M: () => String(this.month), dd: () => pad(this.day), d: () => String(this.day), HH: () => pad(this.hour),
        H: () => String(this.hour), mm: () => pad(this.minute), m: () => String(this.minute),
        ss: () => pad(this.second), s: () => String(this.second), SSS: () => pad(this.millisecond, 3) };
      let out = "", i = 0; const f = String(fmt);
      while (i < f.length) {
        if (f[i] === "'") { const j = f.indexOf("'", i + 1); out += f.slice(i + 1, j < 0 ? f.length : j); i = j < 0 ? f.length : j + 1; continue; }
        if (/[A-Za-z]/.test(f[i])) {
          let j = i; while (j < f.length && f[j] === f[i]) j++;
          const token = f.slice(i, j);
          if (!(token in tokens)) throw new Error("$now.toFormat: token '" + token + "' is not supported in ConnectFlow");
          out += tokens[token](); i = j; continue;
        }
        out += f[i]; i++;
      }
      return out;
    }
    format(fmt) { return this.toFormat(fmt); }
  }
  globalThis.$now = new CfDateTime(nowMs);
  globalThis.$today = globalThis.$now.startOf("day");
})();
"""
