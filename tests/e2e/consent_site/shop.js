// The shop's own code: a Meta pixel hit as an image request, shaped like fbevents.js's GET /tr.
const FIRE = new URLSearchParams(location.search).get("fire");
const PIXEL_ID = "1234567890123456";

function firePixel(ev) {
  const img = new Image();
  img.src = "https://www.facebook.com/tr/?id=" + PIXEL_ID + "&ev=" + ev +
    "&dl=" + encodeURIComponent(location.href) + "&rl=&if=false&ts=" + Date.now() + "&v=2.9.179&r=stable" +
    "&fbp=fb.1." + Date.now() + ".1596403881";
}

if (FIRE === "load") firePixel("PageView");
if (FIRE === "gated") {
  // vanilla-cookieconsent runs script tags of type text/plain with data-category once it is accepted.
  const gated = document.createElement("script");
  gated.type = "text/plain";
  gated.dataset.category = "marketing";
  gated.src = "/pixel.js";
  document.head.appendChild(gated);
}
