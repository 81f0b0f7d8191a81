/* Stand-in for https://static.ads-twitter.com/uwt.js (the vendor's CDN is unreachable in tests). It
 * implements the twq queue API of X's base code (twq('config', pixel), twq('event', 'tw-<pixel>-<tag>',
 * params)) and sends every beacon as uwt.js 2.x does: the same image GET to t.co/1/i/adsct and to
 * analytics.twitter.com/1/i/adsct (twins sharing one per-beacon event_id).
 * Wire shape: /work/shared/spec/platforms.md §5, pixelspy/decoders/x.py.
 * Not imitated: engagement pings, the legacy oct.js `events=` form, click-ID handling. */
(function (w, d) {
  "use strict";
  var twq = w.twq;
  if (!twq || twq.exe) return;
  var VERSION = "2.3.33";
  var pageLoadId = uuid();

  function uuid() {
    return w.crypto && crypto.randomUUID ? crypto.randomUUID()
      : String(Math.random()).slice(2) + String(Date.now());
  }

  function browserId() {
    // _twpid first-party cookie: tw.<creation ms>.<random>
    var m = d.cookie.match(/(?:^|; )_twpid=([^;]+)/);
    if (m) return m[1];
    var v = "tw." + Date.now() + "." + String(Math.random()).slice(2, 20);
    d.cookie = "_twpid=" + v + "; path=/; max-age=33696000; SameSite=Lax";
    return v;
  }

  function deviceInfo() {
    return [Intl.DateTimeFormat().resolvedOptions().timeZone, navigator.language, navigator.vendor,
            navigator.platform, screen.colorDepth, screen.width, screen.height, navigator.hardwareConcurrency || 0,
            screen.pixelDepth, w.innerWidth, w.innerHeight, 0, "na"].join("&");
  }

  function beacon(txnId, params) {
    var p = [["bci", "4"], ["dv", deviceInfo()], ["eci", "3"], ["event", JSON.stringify(params)],
             ["event_id", uuid()], ["integration", "advertiser"], ["p_id", "Twitter"], ["p_user_id", "0"],
             ["pl_id", pageLoadId], ["pt", d.title], ["tw_document_href", location.href],
             ["tw_iframe_status", String(Number(w.top !== w))], ["txn_id", txnId], ["twpid", browserId()],
             ["type", "javascript"], ["version", VERSION]];
    var q = p.map(function (kv) { return kv[0] + "=" + encodeURIComponent(kv[1]); }).join("&");
    ["https://t.co/1/i/adsct?", "https://analytics.twitter.com/1/i/adsct?"].forEach(function (base) {
      new Image().src = base + q;
    });
  }

  var methods = {
    config: function (pixel) { beacon(String(pixel), {}); },
    event: function (tag, params) {
      // 'tw-<pixel>-<event tag>': the beacon names the event tag alone.
      var m = /^tw-[0-9a-z]+-([0-9a-z]+)$/i.exec(String(tag));
      beacon(m ? m[1] : String(tag), params || {});
    },
  };

  function call(args) {
    var method = methods[args[0]];
    if (method) method.apply(null, Array.prototype.slice.call(args, 1));
  }

  twq.exe = function () { call(arguments); };
  twq.queue.splice(0).forEach(call);
})(window, document);
