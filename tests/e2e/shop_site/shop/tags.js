// The shop's own tracking code (what a tag manager does): one shop event → each vendor's call.
// Held by the CMP until marketing consent, like the vendors' base codes. The same event ID goes to
// every vendor so a server-side copy could be deduplicated.
(function (w) {
  "use strict";
  var META = { view_item: "ViewContent", add_to_cart: "AddToCart", begin_checkout: "InitiateCheckout",
               purchase: "Purchase" };
  var TIKTOK = { view_item: "ViewContent", add_to_cart: "AddToCart", begin_checkout: "InitiateCheckout",
                 purchase: "CompletePayment" };
  var PINTEREST = { page_view: "pagevisit", add_to_cart: "addtocart", purchase: "checkout" };
  var LINKEDIN_CONVERSION_RULES = { add_to_cart: 18800101, begin_checkout: 18800102, purchase: 18800103 };
  var X_EVENT_TAGS = { view_item: "tw-o7z1d-oa1cv", add_to_cart: "tw-o7z1d-oa2ac",
                       begin_checkout: "tw-o7z1d-oa3ci", purchase: "tw-o7z1d-oa4pu" };

  function ids(e) { return e.items.map(function (i) { return i.id; }); }
  function quantity(e) { return e.items.reduce(function (n, i) { return n + i.quantity; }, 0); }

  var vendors = {
    meta: function (name, e) {
      var data = { content_ids: ids(e), content_type: "product",
                   contents: e.items.map(function (i) { return { id: i.id, quantity: i.quantity, item_price: i.price }; }),
                   value: e.value, currency: e.currency };
      if (e.items.length > 1) data.num_items = quantity(e);
      if (e.order_id) data.order_id = e.order_id;
      w.fbq("track", META[name], data, { eventID: e.event_id });
    },
    tiktok: function (name, e) {
      var props = { contents: e.items.map(function (i) {
                      return { content_id: i.id, content_type: "product", content_name: i.name,
                               quantity: i.quantity, price: i.price }; }),
                    content_type: "product", value: e.value, currency: e.currency };
      // Planted mistake: the thank-you page's CompletePayment tag was set up without the currency.
      if (TIKTOK[name] === "CompletePayment") delete props.currency;
      w.ttq.track(TIKTOK[name], props, { event_id: e.event_id });
    },
    pinterest: function (name, e) {
      if (!e) return w.pintrk("track", PINTEREST[name]);
      var data = { event_id: e.event_id, value: e.value, order_quantity: quantity(e), currency: e.currency,
                   line_items: e.items.map(function (i) {
                     return { product_id: i.id, product_name: i.name, product_price: i.price,
                              product_quantity: i.quantity, product_category: i.category }; }) };
      if (e.order_id) data.order_id = e.order_id;
      w.pintrk("track", PINTEREST[name], data);
    },
    linkedin: function (name, e) {
      w.lintrk("track", { conversion_id: LINKEDIN_CONVERSION_RULES[name], event_id: e.event_id });
    },
    x: function (name, e) {
      w.twq("event", X_EVENT_TAGS[name], {
        value: e.value, currency: e.currency, conversion_id: e.event_id,
        contents: e.items.map(function (i) {
          return { content_id: i.id, content_name: i.name, content_price: i.price, num_items: i.quantity }; }),
      });
    },
  };
  var fires = { meta: META, tiktok: TIKTOK, pinterest: PINTEREST, linkedin: LINKEDIN_CONVERSION_RULES, x: X_EVENT_TAGS };

  w.shopEvent = function (name, e) {
    Object.keys(vendors).forEach(function (vendor) {
      if (fires[vendor][name]) vendors[vendor](name, e);
    });
  };
})(window);
