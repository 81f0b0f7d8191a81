"""Phone set-up helpers: this machine's LAN addresses and terminal QR codes."""

from __future__ import annotations

import ipaddress
import socket
import sys

import segno


def _usable(addr: str) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return ip.version == 4 and not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast)


def _linux_interface_addresses() -> list[str]:
    """IPv4 address of every interface, read with SIOCGIFADDR: no packets are sent."""
    import fcntl
    import struct

    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))
            except OSError:  # interface without an IPv4 address
                continue
            found.append(socket.inet_ntoa(packed[20:24]))
    return found


def lan_addresses() -> list[str]:
    """Addresses a phone on the same network can reach this machine at (private ones first)."""
    candidates: list[str] = []
    if sys.platform.startswith("linux"):
        try:
            candidates += _linux_interface_addresses()
        except OSError:
            pass
    try:
        candidates += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    except OSError:
        pass
    unique = list(dict.fromkeys(a for a in candidates if _usable(a)))
    return sorted(unique, key=lambda a: not ipaddress.ip_address(a).is_private)


def qr_text(data: str) -> str:
    """A QR code drawn with half blocks (two modules per character row); the glyphs are the dark
    modules, so show it as black on white (QR readers want dark on light)."""
    # micro=False: segno picks a Micro QR for short data (an address), which phone cameras do not read.
    rows = [list(r) for r in segno.make(data, error="m", micro=False).matrix_iter(border=2)]
    if len(rows) % 2:
        rows.append([0] * len(rows[0]))
    chars = {(1, 1): "█", (1, 0): "▀", (0, 1): "▄", (0, 0): " "}  # (top dark, bottom dark) → glyph
    return "\n".join("".join(chars[(top, bottom)] for top, bottom in zip(rows[i], rows[i + 1]))
                     for i in range(0, len(rows), 2))
