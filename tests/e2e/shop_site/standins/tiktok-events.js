/* Stand-in for https://analytics.tiktok.com/i18n/pixel/events.js?sdkid=<pixel>&lib=ttq (the vendor's
 * CDN is unreachable in tests). It implements the ttq queue API of TikTok's base code (ttq.load,
 * ttq.page, ttq.track, ttq.instance) and sends each event as TikTok's pixel does: a
 * navigator.sendBeacon of the JSON body (text/plain) to analytics.tiktok.com/api/v2/pixel.
 * Wire shape: /work/shared/spec/platforms.md §2, pixelspy/decoders/tiktok.py.
 * Not imitated: auto-collected /act hits, advanced matching, telemetry (/perf, /monitor). */
(function (w, d) {
  "use strict";
  var ttq = w[w.TiktokAnalyticsObject || "ttq"];
  if (!ttq || ttq.__standIn) return; // ttq.load inserts the loader once per pixel code
  var ENDPOINT = "https://analytics.tiktok.com/api/v2/pixel";

  function uuid() {
    return w.crypto && crypto.randomUUID ? crypto.randomUUID()
      : String(Math.random()).slice(2) + String(Date.now());
  }

  function send(code, event, properties, options) {
    var body = {
      event: event,
      message_id: "messageId-" + Date.now() + "-" + String(Math.random()).slice(2, 13) + "-" + code,
      event_id: (options && options.event_id) || "",
      is_onsite: false,
      timestamp: new Date().toISOString(),
      context: {
        ad: { sdk_env: "external", jsb_status: 2 },
        pixel: { code: code, runtime: "1" },
        page: { url: location.href, referrer: d.referrer },
        library: { name: "pixel.js", version: "2.2.1" },
        device: { platform: "pc" },
        session_id: sessionId,
      },
      properties: properties || {},
    };
    navigator.sendBeacon(ENDPOINT, JSON.stringify(body));
  }

  var sessionId = uuid();
  var codes = Object.keys(ttq._i || {});

  function api(targets) {
    return {
      page: function () { targets.forEach(function (c) { send(c, "Pageview", {}); }); },
      track: function (event, properties, options) {
        targets.forEach(function (c) { send(c, event, properties, options); });
      },
    };
  }

  function call(target, entry) {
    var method = target[entry[0]];
    if (method) method.apply(null, entry.slice(1));
  }

  var all = api(codes);
  ttq.__standIn = true;
  ttq.methods.forEach(function (m) { ttq[m] = all[m] || function () {}; });
  ttq.instance = function (code) { return api([code]); };
  // Calls queued by the base code before this script loaded: on ttq itself and per pixel instance.
  ttq.splice(0).forEach(function (entry) { call(all, entry); });
  codes.forEach(function (code) {
    var queue = ttq._i[code];
    var one = api([code]);
    queue.splice(0).forEach(function (entry) { call(one, entry); });
  });
})(window, document);
