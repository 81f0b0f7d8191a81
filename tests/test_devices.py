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


def test_devices_are_named_from_the_first_user_agent_and_can_be_renamed():
    d = Devices()
    d.observe(RawHit(method="GET", url="https://shop.example/", client="192.168.1.23",
                     headers=[("user-agent", next(iter(UAS)))]))
    d.observe(RawHit(method="GET", url="https://shop.example/", client="192.168.1.23",
                     headers=[("user-agent", "curl/8.5.0")]))
    assert d.name("192.168.1.23") == "iPhone Safari 192.168.1.23"
    assert d.name("10.1.1.1") == "10.1.1.1"
    d.rename("192.168.1.23", "Anna's test iPhone")
    assert d.name("192.168.1.23") == "Anna's test iPhone"
    d.rename("192.168.1.23", "")
    assert d.name("192.168.1.23") == "iPhone Safari 192.168.1.23"
