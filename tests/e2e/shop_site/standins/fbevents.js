/* Stand-in for https://connect.facebook.net/en_US/fbevents.js (the vendor's CDN is unreachable in
 * tests). It implements the fbq queue API of Meta's base code and sends hits as fbevents.js does:
 * an image GET to www.facebook.com/tr/, or a form POST (hidden iframe) when the URL would exceed
 * 2048 characters. Wire shape: /work/shared/spec/platforms.md §1, pixelspy/decoders/meta.py.
 * Not imitated: the per-pixel signals/config script and automatic events (Microdata, button clicks). */
(function (w, d) {
  "use strict";
  var fbq = w.fbq;
  if (!fbq || fbq.__standIn) return; // the loader ran already
  var VERSION = "2.9.179";
  var MAX_URL = 2048;
  var pixels = []; // ids in init order
  var initTime = {};
  var eventCount = 0;

  function browserId() {
    // _fbp first-party cookie: fb.1.<creation ms>.<random>
    var m = d.cookie.match(/(?:^|; )_fbp=([^;]+)/);
    if (m) return m[1];
    var v = "fb.1." + Date.now() + "." + Math.floor(Math.random() * 2147483647);
    d.cookie = "_fbp=" + v + "; path=/; max-age=7776000; SameSite=Lax";
    return v;
  }

  function json(v) { return typeof v === "string" ? v : JSON.stringify(v); }

  function params(pixel, ev, custom, opts) {
    var p = [["id", pixel], ["ev", ev], ["dl", location.href], ["rl", d.referrer],
             ["if", String(w.top !== w)], ["ts", String(Date.now())]];
    Object.keys(custom || {}).forEach(function (k) { p.push(["cd[" + k + "]", json(custom[k])]); });
    p.push(["sw", String(screen.width)], ["sh", String(screen.height)], ["v", VERSION], ["r", "stable"],
           ["ec", String(eventCount++)], ["o", "4126"], ["fbp", browserId()], ["ler", "empty"],
           ["cdl", "API_unavailable"], ["it", String(initTime[pixel])], ["coo", "false"]);
    if (opts && opts.eventID) p.push(["eid", String(opts.eventID)]);
    return p;
  }

  function query(p) {
    return p.map(function (kv) { return kv[0] + "=" + encodeURIComponent(kv[1]); }).join("&");
  }

  function formPost(p) {
    var name = "fb" + String(Math.random()).slice(2);
    var frame = d.createElement("iframe");
    frame.name = name;
    frame.style.display = "none";
    d.body.appendChild(frame);
    var form = d.createElement("form");
    form.action = "https://www.facebook.com/tr/";
    form.method = "POST";
    form.target = name;
    form.acceptCharset = "utf-8";
    form.style.display = "none";
    p.forEach(function (kv) {
      var input = d.createElement("input");
      input.type = "hidden";
      input.name = kv[0];
      input.value = kv[1];
      form.appendChild(input);
    });
    d.body.appendChild(form);
    form.submit();
  }

  function send(pixel, ev, custom, opts) {
    var p = params(pixel, ev, custom, opts);
    var url = "https://www.facebook.com/tr/?" + query(p.concat([["rqm", "GET"]]));
    if (url.length <= MAX_URL) {
      new Image().src = url;
    } else {
      formPost(p.concat([["rqm", "POST"]]));
    }
  }

  var methods = {
    init: function (id) {
      id = String(id);
      if (initTime[id]) {
        // fbevents ignores a second init of the same ID (its "Duplicate Pixel ID" warning).
        console.warn("[fbevents stand-in] duplicate pixel ID " + id + " ignored");
        return;
      }
      initTime[id] = Date.now();
      pixels.push(id);
    },
    track: function (ev, custom, opts) {
      pixels.forEach(function (id) { send(id, ev, custom, opts); });
    },
    trackCustom: function (ev, custom, opts) { methods.track(ev, custom, opts); },
    trackSingle: function (id, ev, custom, opts) { send(String(id), ev, custom, opts); },
  };

  function call(args) {
    var method = methods[args[0]];
    if (method) method.apply(null, Array.prototype.slice.call(args, 1));
  }

  fbq.__standIn = true;
  fbq.callMethod = function () { call(arguments); };
  function drain() {
    var queued = fbq.queue.splice(0);
    queued.forEach(call);
  }
  if (d.body) drain(); else d.addEventListener("DOMContentLoaded", drain);
})(window, document);
