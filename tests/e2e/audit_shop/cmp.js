/* vanilla-cookieconsent (from npm) with its defaults, hideFromBots included: the banner shows only to a
 * browser that does not look automated. Run last: it then sees the scripts held for "marketing". */
CookieConsent.run({
  // A shop may set its own categories (window.shopCategories) before this script.
  categories: window.shopCategories || {
    necessary: { enabled: true, readOnly: true },
    analytics: {},
    marketing: {},
  },
  onConsent: function () {
    if (window.onShopConsent) window.onShopConsent();
  },
  language: {
    default: "en",
    translations: {
      en: {
        consentModal: {
          title: "We use cookies",
          description: "Marketing cookies help us show you our teas in your feeds.",
          acceptAllBtn: "Accept all",
          acceptNecessaryBtn: "Reject all",
        },
        preferencesModal: { title: "Preferences", sections: [] },
      },
    },
  },
});
