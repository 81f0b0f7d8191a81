/* Stand-in for https://s.pinimg.com/ct/core.js (the vendor's CDN is unreachable in tests). It
 * implements the pintrk queue API of Pinterest's base code (load, page, track) and sends hits as the
 * tag does: image GETs to ct.pinterest.com/v3/ with the event data (`ed`) and browser data (`ad`) as
 * URL-encoded JSON; pintrk('page') sends the tag's `init` hit.
 * Wire shape: /work/shared/spec/platforms.md §3, pixelspy/decoders/pinterest.py.
 * Not imitated: the main.<hash>.js runtime, enhanced match (`pd`), the /user/ cookie sync. */
(function (w, d) {
  "use strict";
  var queued = w.pintrk && w.pintrk.queue;
  if (!queued || w.pintrk.__standIn) return;
  var tags = [];

  function browserData() {
    return { loc: location.href, ref: d.referrer, if: w.top !== w, sh: screen.height, sw: screen.width };
  }

  function send(tid, event, data) {
    var q = ["event=" + encodeURIComponent(event)];
    if (data) q.push("ed=" + encodeURIComponent(JSON.stringify(data)));
    q.push("tid=" + encodeURIComponent(tid), "ad=" + encodeURIComponent(JSON.stringify(browserData())),
           "cb=" + Date.now());
    new Image().src = "https://ct.pinterest.com/v3/?" + q.join("&");
  }

  var methods = {
    load: function (tid) { if (tags.indexOf(String(tid)) < 0) tags.push(String(tid)); },
    page: function () { tags.forEach(function (tid) { send(tid, "init"); }); },
    track: function (event, data) { tags.forEach(function (tid) { send(tid, event, data); }); },
  };

  function call(args) {
    var method = methods[args[0]];
    if (method) method.apply(null, Array.prototype.slice.call(args, 1));
  }

  var pintrk = function () { call(arguments); };
  pintrk.__standIn = true;
  pintrk.version = w.pintrk.version;
  pintrk.queue = [];
  w.pintrk = pintrk;
  queued.splice(0).forEach(call);
})(window, document);
