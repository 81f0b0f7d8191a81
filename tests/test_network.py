import ipaddress

import segno

from pixelspy.network import lan_addresses, qr_text


def test_lan_addresses_are_reachable_ipv4_not_loopback():
    for addr in lan_addresses():
        ip = ipaddress.ip_address(addr)
        assert ip.version == 4 and not ip.is_loopback and not ip.is_link_local


def test_qr_text_draws_exactly_the_qr_matrix_of_the_payload():
    payload = "192.168.1.23:8080"
    lines = qr_text(payload).split("\n")
    matrix = [list(r) for r in segno.make(payload, error="m", micro=False).matrix_iter(border=2)]
    assert len(matrix) == 21 + 4  # a version 1 QR code: a short payload is no Micro QR (cameras skip those)
    glyph_bits = {"█": (1, 1), "▀": (1, 0), "▄": (0, 1), " ": (0, 0)}
    drawn = []
    for line in lines:
        pairs = [glyph_bits[c] for c in line]
        drawn.append([p[0] for p in pairs])
        drawn.append([p[1] for p in pairs])
    assert drawn[: len(matrix)] == matrix
    assert all(v == 0 for v in sum(drawn[len(matrix):], []))  # padding row, if any, is light
