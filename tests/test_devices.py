import random
import re

import pytest

from pixelspy import devices
from pixelspy.devices import MAX_UA, Devices, user_agent_family
from pixelspy.model import RawHit

IPHONE_SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/18.1 Mobile/15E148 Safari/604.1")
LINUX_CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
                "Safari/537.36")
MAC_CHROME = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/131.0.0.0 Safari/537.36")
MAC_SAFARI = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Version/18.1 Safari/605.1.15")
IPHONE_INSTAGRAM = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                    "Mobile/15E148 Instagram 357.0.0.25.101 (iPhone15,2; iOS 18_1; en_US; en; scale=3.00; "
                    "1179x2556; 658427016)")

# User-Agents as current browsers, in-app browsers, apps and tools send them (late 2024 versions).
UAS = {
    # Desktop browsers: the operating system and the browser.
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36": "Windows Chrome",
    MAC_CHROME: "Mac Chrome",
    LINUX_CHROME: "Linux Chrome",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36": "ChromeOS Chrome",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0": "Windows Firefox",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0": "Mac Firefox",
    MAC_SAFARI: "Mac Safari",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36 Edg/131.0.0.0": "Windows Edge",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 "
    "Safari/537.36": "Windows Headless Chrome",
    # Phones: the model where the User-Agent names one, else the system.
    IPHONE_SAFARI: "iPhone Safari",
    "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Mobile/15E148 Safari/604.1": "iPad Safari",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1": "iPhone Chrome",
    # Chrome's reduced User-Agent: model "K", Android 10, whatever the phone.
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile "
    "Safari/537.36": "Android Chrome",
    "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile "
    "Safari/537.36": "Pixel 7 Chrome",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36": "SM-S918B Samsung Internet",
    "Mozilla/5.0 (Linux; Android 14; K) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 "
    "Chrome/122.0.0.0 Mobile Safari/537.36": "Android Samsung Internet",
    "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0": "Android Firefox",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/131.0.6778.81 Mobile Safari/537.36": "Pixel 8 WebView",
    # In-app browsers: pixelspy's names, after the phone.
    IPHONE_INSTAGRAM: "iPhone Instagram in-app",
    "Mozilla/5.0 (Linux; Android 14; Pixel 7 Build/AP2A.240805.005; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/131.0.6778.81 Mobile Safari/537.36 Instagram 357.0.0.25.101 Android (34/14; 420dpi; "
    "1080x2400; Google/google; Pixel 7; panther; panther; en_US; 658427016)": "Pixel 7 Instagram in-app",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 [FBAN/FBIOS;FBAV/489.0.0.43.107;FBBV/661230419;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;"
    "FBSV/18.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5;FBRV/663500000]": "iPhone Facebook in-app",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/131.0.6778.81 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/489.0.0.44.109;]":
        "Samsung SM-S918B Facebook in-app",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 musical_ly_37.5.0 JsSdk/2.0 NetType/WIFI Channel/App Store ByteLocale/en Region/US "
    "isDarkMode/0 WKWebView/1 RevealType/Dialog BytedanceWebview/d8a21c6": "iPhone TikTok in-app",
    "Mozilla/5.0 (Linux; Android 14; Pixel 7 Build/AP2A.240805.005; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/131.0.6778.81 Mobile Safari/537.36 trill_370504 JsSdk/1.0 NetType/WIFI "
    "Channel/googleplay AppName/musical_ly app_version/37.5.4 ByteLocale/en BytedanceWebview/d8a21c6":
        "Pixel 7 TikTok in-app",
    # Apps' own HTTP clients, tools, scripts and the vendors' server SDKs.
    "okhttp/4.12.0": "Android app OkHttp",
    "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 7 Build/AP2A.240805.005)": "Pixel 7 Android app",
    "My%20Shop/1 CFNetwork/1568.200.51 Darwin/24.1.0": "iOS My Shop",  # CFNetwork percent-encodes the app's name
    "MyShop/5.2.1 (iPhone; iOS 18.1; Scale/3.00)": "iPhone MyShop",
    "curl/8.5.0": "curl",
    "python-requests/2.32.3": "Python",
    "Go-http-client/2.0": "Go",
    "fbbizsdk-python-v21.0.5": "Meta Business SDK",
    "FBAndroidSDK.17.0.0": "Meta Android SDK",
    "pins-sdk/python/v0.2.7": "Pinterest SDK",
    "twitter-ads version: 12.0.0 platform: Python 3.11 (CPython/linux)": "X Ads SDK",
    "": "",
}


@pytest.mark.parametrize("ua, family", UAS.items(), ids=list(UAS.values()))
def test_user_agent_families(ua, family):
    assert user_agent_family(ua) == family


def hit(client: str, ua: str | None) -> RawHit:
    return RawHit(method="GET", url="https://shop.example/", client=client,
                  headers=[("user-agent", ua)] if ua is not None else [])


def test_devices_are_named_from_address_and_browser_and_can_be_renamed():
    d = Devices()
    phone = d.key(hit("192.168.1.23", IPHONE_SAFARI))
    assert d.name(phone) == "iPhone Safari 192.168.1.23"
    assert d.name("10.1.1.1") == "10.1.1.1"
    d.rename(phone, "Anna's test iPhone")
    assert d.name(phone) == "Anna's test iPhone"
    assert d.name(d.key(hit("192.168.1.23", IPHONE_SAFARI))) == "Anna's test iPhone"
    d.rename(phone, "")
    assert d.name(phone) == "iPhone Safari 192.168.1.23"


def test_browsers_and_tools_at_one_address_are_different_devices():
    # All desktop clients come from 127.0.0.1: a curl must not turn Chrome into "curl 127.0.0.1".
    d = Devices()
    chrome = d.key(hit("127.0.0.1", LINUX_CHROME))
    curl = d.key(hit("127.0.0.1", "curl/8.5.0"))
    wget = d.key(hit("127.0.0.1", "Wget/1.21.4"))
    assert len({chrome, curl, wget}) == 3
    assert d.key(hit("127.0.0.1", LINUX_CHROME.replace("124.0.0.0", "125.0.0.0"))) == chrome  # same family
    assert [d.name(k) for k in (chrome, curl, wget)] == ["Linux Chrome 127.0.0.1", "curl 127.0.0.1",
                                                         "Wget 127.0.0.1"]
    d.rename(curl, "smoke test")
    assert d.name(chrome) == "Linux Chrome 127.0.0.1"
    assert sorted(d.clients()) == sorted([chrome, curl, wget])


def test_chrome_and_safari_on_one_mac_and_an_app_beside_safari_are_separate_devices():
    d = Devices()
    keys = [d.key(hit("127.0.0.1", ua)) for ua in (MAC_CHROME, MAC_SAFARI, MAC_CHROME)]
    assert keys[0] == keys[2] != keys[1]
    assert [d.name(k) for k in keys[:2]] == ["Mac Chrome 127.0.0.1", "Mac Safari 127.0.0.1"]
    phone = [d.key(hit("192.168.1.23", ua)) for ua in (IPHONE_SAFARI, IPHONE_INSTAGRAM)]
    assert d.name(phone[1]) == "iPhone Instagram in-app 192.168.1.23" and phone[0] != phone[1]


def test_a_browser_keeps_its_device_across_versions_and_app_builds():
    # The version is not part of the family: an update in the middle of a session keeps the device.
    for ua, newer in ((MAC_SAFARI, MAC_SAFARI.replace("18.1", "18.2")),
                      (IPHONE_INSTAGRAM, IPHONE_INSTAGRAM.replace("357.0.0.25.101", "358.0.0.10.99")),
                      ("fbbizsdk-python-v21.0.5", "fbbizsdk-python-v22.0.0")):
        d = Devices()
        assert d.key(hit("10.0.0.2", ua)) == d.key(hit("10.0.0.2", newer)), ua


def test_a_hit_without_user_agent_joins_the_only_device_of_its_address():
    d = Devices()
    assert d.key(hit("10.0.0.5", None)) == "10.0.0.5"  # nothing known yet: the address's own device
    phone = d.key(hit("10.0.0.7", IPHONE_SAFARI))
    assert d.key(hit("10.0.0.7", None)) == phone
    assert d.key(hit("10.0.0.7", "")) == phone
    assert d.name("10.0.0.7") == "iPhone Safari 10.0.0.7"  # an address alone (a TLS failure) names it too
    d.key(hit("10.0.0.7", "curl/8.5.0"))
    assert d.key(hit("10.0.0.7", None)) == "10.0.0.7"  # two devices there: whose it is, is unknown
    assert d.name("10.0.0.7") == "10.0.0.7"


def test_device_names_from_unknown_user_agents_are_inert_and_short():
    d = Devices()
    key = d.key(hit("10.0.0.5", "\x1b]52;c;AAAA\x07evil"))
    assert d.name(key) == "? 10.0.0.5"
    key = d.key(hit("10.0.0.6", "A" * 500 + "/1.0"))
    assert d.name(key) == "A" * 40 + " 10.0.0.6"
    # ua-parser names a model by quoting the User-Agent: what it quotes is kept to plain characters.
    key = d.key(hit("10.0.0.7", "Mozilla/5.0 (Linux; Android 14; Pixel \x1b]52;c;AAAA\x07" + "7" * 200
                    + " Build/AP2A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"))
    name = d.name(key)
    assert name.isprintable() and "\x1b" not in name and len(name) < 100, name


def test_a_device_rule_that_fails_on_the_user_agent_leaves_the_system_to_name_it():
    # ua-parser's rule for the WeTab names the device from a group this spelling leaves empty, and
    # its pure-Python resolver raises ValueError: the device is unknown, the system names the platform.
    ua = ("Mozilla/5.0 (Linux; Android 14; wetab Build/AP2A) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Mobile Safari/537.36")
    assert user_agent_family(ua) == "Android Chrome"


class _CountingParser:
    """ua-parser as pixelspy builds it, recording the length of each User-Agent it is given."""

    def __init__(self) -> None:
        self.real, self.lengths = devices._parser(), []

    def __call__(self, ua: str, domains):
        self.lengths.append(len(ua))
        return self.real(ua, domains)


def test_huge_and_garbage_user_agents_are_cut_before_parsing(monkeypatch):
    spy = _CountingParser()
    monkeypatch.setattr(devices, "_parser", lambda: spy)
    rng = random.Random(25)
    garbage = ["".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(1, 3000))) for _ in range(200)]
    huge = ["Mozilla/5.0 (" + "Linux; Android 14; " * 50_000 + ")", "Mozilla/5.0 " + "(" * 1_000_000,
            IPHONE_SAFARI + " x" * 500_000]
    d = Devices()
    for i, ua in enumerate(garbage + huge):
        d.name(d.key(hit(f"10.1.{i // 250}.{i % 250}", ua)))
    assert spy.lengths and max(spy.lengths) <= MAX_UA
    assert user_agent_family(huge[2]) == "iPhone Safari"  # what names it comes first


def test_the_number_of_devices_is_bounded():
    d = Devices()
    for i in range(Devices.MAX + 50):
        d.key(hit(f"10.{i // 250}.{i % 250}.1", "curl/8.5.0"))
    assert len(d.clients()) == Devices.MAX


# (User-Agent, whether it skips ua-parser's device rules, its name). Desktop browsers in the standard
# shape skip them; anything else in the parentheses or after them may name a device, and is parsed.
DESKTOP_SHAPES = [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
     "Safari/537.36", True, "Windows Chrome"),  # the real-traffic HARs' commonest (tests/realtraffic)
    ("Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/44.0.2403.157 Safari/537.36",
     True, "Windows Chrome"),
    (MAC_CHROME, True, "Mac Chrome"),
    # Safari on a Mac, and on an iPad asking for desktop sites: the same User-Agent, the same name.
    (MAC_SAFARI, True, "Mac Safari"),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", True, "Ubuntu Firefox"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36 OPR/115.0.0.0", True, "Windows Opera"),
    # Devices that dress as a desktop: a word in the parentheses or after them names them.
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/70.0.3538.102 Safari/537.36 Edge/18.19041", False, "Windows Edge"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Safari/537.36 "
     "CrKey/1.56.500000", False, "Chromecast Chrome"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36 Quest", False, "Quest Chrome"),
    ("Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/94.0.4606.128 "
     "Safari/537.36 WebAppManager", False, "LG Web0S SmartTV Chrome"),
    ("Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) 76.0.3809.146/6.0 TV "
     "Safari/537.36", False, "Samsung SMART-TV Safari"),
    ("Mozilla/5.0 (Windows NT 10.0; ARM; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 "
     "Mobile Safari/537.36 Edge/15.15063", False, "Lumia 950 Chrome"),
    ("Mozilla/5.0 (Windows NT 6.3; ARM; Trident/7.0; Touch; rv:11.0) like Gecko", False, "Windows IE"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:10.0) Gecko/20100101 Firefox/10.0 [FBAN/FBIOS;FBAV/7.0.0.17.1;"
     "FBBV/1325030;FBDV/iPhone6,2;FBMD/iPhone;FBSN/iPhone OS;FBSV/7.0.6;FBSS/2;FBID/phone;FBLC/de_DE;FBOP/5]",
     False, "iPhone Facebook in-app"),  # from uap-core's tests: an in-app browser on an iPhone
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/63.0.3239.132 "
     "Safari/537.36 PTST/180111.190127", False, "Linux WebPageTest.org bot"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", False, "Windows Googlebot"),
]


def _without_skip(monkeypatch) -> None:
    monkeypatch.setattr(devices, "_NAMES_NO_DEVICE", re.compile(r"(?!)"))  # matches nothing
    devices._family.cache_clear()


@pytest.mark.parametrize("ua, skips, name", DESKTOP_SHAPES, ids=[n for _, _, n in DESKTOP_SHAPES])
def test_desktop_browsers_skip_the_device_rules_and_keep_their_names(monkeypatch, ua, skips, name):
    devices._family.cache_clear()
    assert (devices._NAMES_NO_DEVICE.fullmatch(ua) is not None) == skips
    assert user_agent_family(ua) == name
    _without_skip(monkeypatch)
    assert user_agent_family(ua) == name
    devices._family.cache_clear()


def test_no_device_rule_names_a_device_in_a_desktop_shape():
    # Every system of the shape, Firefox's rv: or not, every browser's tail, odd versions: the device
    # rules that match name no device (a newer ua-parser-builtins could bring one that does).
    systems = ["Windows NT 10.0; Win64; x64", "Windows NT 6.1; WOW64", "Windows NT 6.3",
               "Macintosh; Intel Mac OS X 10_15_7", "Macintosh; Intel Mac OS X 10.15", "Macintosh; Intel Mac OS X 11", "X11; Linux x86_64",
               "X11; Ubuntu; Linux x86_64"]
    tails = ["AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Safari/537.36 Edg/{v} OPR/{v}",
             "AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/{v} Safari/537.36",
             "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v} Safari/605.1.15", "Gecko/20100101 Firefox/{v}"]
    uas = [f"Mozilla/5.0 ({s}{rv}) {t}".format(v=v) for s in systems for rv in ("", "; rv:{v}") for t in tails
           for v in ("131.0.0.0", "3", "999999.99.9.9")]
    assert all(devices._NAMES_NO_DEVICE.fullmatch(ua) for ua in uas)
    devices.compile_rules()
    named = {(d.brand, d.family) for rule in devices._rules()[2] for ua in uas if (d := rule(ua)) is not None}
    assert named == {("Apple", "Mac")}  # Safari and Chrome on a Mac: GENERIC_DEVICES, the system names it
    assert not {f for _, f in named} - devices.GENERIC_DEVICES
