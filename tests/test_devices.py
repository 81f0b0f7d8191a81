import random

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
