"""The shared helpers are a package of their own, not a vendor: the registry must not load them as one."""

import importlib
import pkgutil

import pixelspy.decoders
from pixelspy.decoders import default_registry, vendor_modules


def test_the_wire_package_is_no_vendor_and_every_vendor_has_routes():
    packages = {m.name for m in pkgutil.iter_modules(pixelspy.decoders.__path__) if m.ispkg}
    assert "wire" in packages
    assert "wire" not in vendor_modules()
    for name in vendor_modules():
        assert importlib.import_module(f"pixelspy.decoders.{name}").ROUTES, name
    assert default_registry().find("www.facebook.com", "/tr/") is not None


def test_the_package_names_every_helper_the_decoders_import():
    from pixelspy.decoders import wire

    assert all(hasattr(wire, name) for name in wire.__all__)
    for name in ("Errors", "parse_qs_pairs", "body_form_or_json", "flatten", "Labels", "decode_server_batch",
                 "MAX_DECODE_BYTES", "REFERER_PARAM", "USER_KEYS", "folded_lookup"):
        assert name in wire.__all__, name
