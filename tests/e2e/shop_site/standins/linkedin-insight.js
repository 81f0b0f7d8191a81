/* Stand-in for https://snap.licdn.com/li.lms-analytics/insight.min.js (the vendor's CDN is
 * unreachable in tests). It reads the partner IDs of LinkedIn's base code
 * (window._linkedin_data_partner_ids) and implements its lintrk queue (lintrk.q):
 * - on load, a PAGE_VISIT signal per partner: a keepalive fetch POST to px.ads.linkedin.com/wa/ whose
 *   body is the JSON gzipped and base64-encoded (as insight.js scriptVersion 308 sends it);
 * - lintrk('track', {conversion_id, event_id}): an image GET to px.ads.linkedin.com/collect.
 * Wire shape: /work/shared/spec/platforms.md §4, pixelspy/decoders/linkedin.py.
 * Not imitated: the px4 mirror hits, CLICK signals, cookie syncs. */
(function (w, d) {
  "use strict";
  if (w._linkedin_insight_stand_in) return;
  w._linkedin_insight_stand_in = true;
  var partners = (w._linkedin_data_partner_ids || []).map(String)
    .filter(function (p, i, all) { return all.indexOf(p) === i; });

  function uuid() {
    return w.crypto && crypto.randomUUID ? crypto.randomUUID()
      : String(Math.random()).slice(2) + String(Date.now());
  }

  function gzipBase64(text) {
    var stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
    return new Response(stream).arrayBuffer().then(function (buf) {
      var bytes = new Uint8Array(buf), bin = "";
      for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
      return btoa(bin);
    });
  }

  function pageVisit(pid) {
    var signal = {
      pids: [Number(pid)], scriptVersion: 308, time: Date.now(), domain: location.hostname,
      url: location.href, pageTitle: d.title, websiteSignalRequestId: uuid(), isTranslated: false,
      liFatId: "", liGiant: "", misc: { psbState: -1 }, isLinkedInApp: false, hem: null,
      signalType: "PAGE_VISIT",
    };
    gzipBase64(JSON.stringify(signal)).then(function (body) {
      fetch("https://px.ads.linkedin.com/wa/?medium=fetch&fmt=g", {
        method: "POST", body: body, keepalive: true, credentials: "include", mode: "cors",
      }).catch(function () {});
    });
  }

  function conversion(pid, options) {
    var q = ["v=2", "fmt=js", "pid=" + encodeURIComponent(pid),
             "conversionId=" + encodeURIComponent(options.conversion_id)];
    if (options.event_id) q.push("eventId=" + encodeURIComponent(options.event_id));
    q.push("time=" + Date.now(), "url=" + encodeURIComponent(location.href));
    new Image().src = "https://px.ads.linkedin.com/collect?" + q.join("&");
  }

  function call(action, options) {
    if (action === "track" && options && options.conversion_id) {
      partners.forEach(function (pid) { conversion(pid, options); });
    }
  }

  var queued = (w.lintrk && w.lintrk.q) || [];
  w.lintrk = function (action, options) { call(action, options); };
  w.lintrk.q = [];
  partners.forEach(pageVisit);
  queued.splice(0).forEach(function (entry) { call(entry[0], entry[1]); });
})(window, document);
