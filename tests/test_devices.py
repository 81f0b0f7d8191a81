from pixelspy.devices import Devices, user_agent_family
from pixelspy.model import RawHit

UAS = {
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1": "iPhone Safari",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
    "Mobile Safari/537.36": "Android Chrome",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 Instagram 329.0.0.0.58 (iPhone15,2; iOS 17_4)": "iPhone Instagram",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
    "Chrome/124.0 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/460.0.0.48.109;]": "Android Facebook app",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 "
    "Safari/537.36 Edg/124.0": "Windows Edge",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0": "Mac Firefox",
    "curl/8.5.0": "curl",
    "okhttp/4.12.0": "Android app OkHttp",
    "": "",
}


def test_user_agent_families():
    for ua, family in UAS.items():
        assert user_agent_family(ua) == family, ua


IPHONE_SAFARI = next(iter(UAS))
LINUX_CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
                "Safari/537.36")


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


def test_the_number_of_devices_is_bounded():
    d = Devices()
    for i in range(Devices.MAX + 50):
        d.key(hit(f"10.{i // 250}.{i % 250}.1", "curl/8.5.0"))
    assert len(d.clients()) == Devices.MAX
